"""Serving an imitation: uvicorn on 127.0.0.1, in the foreground (the CLI) or in a thread (tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from tokentrail.errors import ConfigError

HOST = "127.0.0.1"


def _config(app: ASGIApp, port: int) -> uvicorn.Config:
    # Injected cut-offs abort responses on purpose: uvicorn's error log would report each one.
    return uvicorn.Config(app, host=HOST, port=port, log_level="critical", access_log=False,
                          lifespan="off", log_config=None)


class RunningImitation:
    """An app served on a free loopback port in a background thread until closed."""

    def __init__(self, app: ASGIApp, port: int = 0) -> None:
        self.server = uvicorn.Server(_config(app, port))
        self._thread = threading.Thread(target=self.server.run, name="imitation", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"the imitation could not listen on {HOST}:{port}")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"

    def close(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self._thread.join(timeout=15)


@contextmanager
def running(app: ASGIApp, port: int = 0) -> Iterator[RunningImitation]:
    """Serve ``app`` for the duration of the block."""
    served = RunningImitation(app, port)
    try:
        yield served
    finally:
        served.close()


def serve_forever(app: ASGIApp, port: int) -> None:
    """Serve ``app`` in the foreground until interrupted (the CLI)."""
    uvicorn.Server(_config(app, port)).run()
