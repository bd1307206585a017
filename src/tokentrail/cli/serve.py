"""``tokentrail serve``: receivers that vendors push logs to."""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from tokentrail.cli.common import FormatOpt, OutputFormat, RulesOpt, fail, load, note, write_json_stdout
from tokentrail.cli.help import Command, Group
from tokentrail.cli.watch import (
    SinkOpt,
    StateOpt,
    WebhookSecretOpt,
    _error_line,
    _webhook_secret,
    live_or_fail,
)

app = typer.Typer(help="Receive logs pushed by a vendor and alert on them.", no_args_is_help=True, cls=Group)


def register(app_: typer.Typer) -> None:
    """Add ``serve`` to the app."""
    app_.add_typer(app, name="serve")


@app.command("auth0-stream", cls=Command)
def serve_auth0_stream(
    token_env: Annotated[str, typer.Option(
        "--token-env", metavar="NAME",
        help="Environment variable holding the token the log stream sends in Authorization.")],
    state: StateOpt,
    listen: Annotated[str, typer.Option(
        "--listen", metavar="HOST:PORT", help="Address to listen on (e.g. 127.0.0.1:8088).")] = "127.0.0.1:8088",
    rules: RulesOpt = None,
    sink: SinkOpt = None,
    webhook_secret_env: WebhookSecretOpt = None,
    max_body: Annotated[str, typer.Option(
        "--max-body", metavar="SIZE", help="Largest request body taken (bigger: 413).")] = "16MiB",
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Receive an Auth0 Log Stream (custom webhook): JSON lines, a JSON array or one JSON object per
    POST to /; answers 200 once the batch's alerts are durable."""
    import os

    import uvicorn

    from tokentrail.cli.scan import parse_size
    from tokentrail.errors import TokenTrailError
    from tokentrail.live.pipeline import Pipeline
    from tokentrail.live.receiver import Receiver
    from tokentrail.live.status import scrubber

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        fail(f"--listen {listen!r}: expected HOST:PORT")
    token = os.environ.get(token_env, "")
    if not token:
        fail(f"--token-env: environment variable {token_env} is not set or empty")
    specs = list(sink or ["-"])
    if fmt is not OutputFormat.table and "-" in specs:
        fail("--format json/jsonl and --sink - would both write to standard output; pick one")
    webhook_secret = _webhook_secret(webhook_secret_env)
    say = _error_line(scrubber([token, *([webhook_secret.decode()] if webhook_secret else [])]))
    cap = parse_size("--max-body", max_body)
    loaded = load(rules)
    stop = threading.Event()
    with live_or_fail(state, specs, webhook_secret, say) as session:
        try:
            session.sinks.recover(session.state)
            pipeline = Pipeline(loaded.rules, session.state, session.sinks, "auth0-stream")
        except TokenTrailError as exc:
            session.clean = False
            fail(str(exc), 1)
        receiver = Receiver(pipeline, token, stop, max_body=cap, on_error=say)
        server = _Server(uvicorn.Config(receiver.app(), host=host, port=int(port), log_level="warning",
                                        access_log=False, lifespan="off", log_config=None,
                                        timeout_graceful_shutdown=10), stop)
        note(f"listening on http://{host}:{port}/ (auth0 log stream)")
        try:
            server.run()
        finally:
            pipeline.close()
        session.clean = not receiver.dirty
        status = pipeline.status
    summary = {"batches": receiver.batches, "events": status.events, "redelivered": receiver.redelivered,
               "rejected": receiver.rejected, "unknown_events": status.unknown, "alerts": status.alerts}
    if fmt is OutputFormat.table:
        note(f"auth0-stream: {receiver.batches} batch(es), {status.events} events, {receiver.redelivered} "
             f"redelivered dropped, {receiver.rejected} rejected, {status.unknown} of no known log type, "
             f"{status.alerts} alert(s)")
    else:
        write_json_stdout(summary)
    if receiver.dirty or not server.started:
        raise typer.Exit(1)


class _Server:
    """uvicorn's server, whose SIGINT/SIGTERM also stops a batch waiting for a sink, and which
    ends the command normally (exit 0) instead of raising the signal again once it has stopped."""

    def __new__(cls, config, stop: threading.Event):
        import contextlib
        import signal

        import uvicorn

        class Server(uvicorn.Server):
            def handle_exit(self, sig, frame) -> None:
                stop.set()
                super().handle_exit(sig, frame)

            @contextlib.contextmanager
            def capture_signals(self):
                previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
                try:
                    yield
                finally:
                    for sig, handler in previous.items():
                        signal.signal(sig, handler)

        return Server(config)
