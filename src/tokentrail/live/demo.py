"""The live part of the demo: a local imitation of an Okta org whose log grows while ``watch``
pulls it, for a few seconds, with no account and nothing to configure."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from tokentrail import api
from tokentrail.live.pipeline import SourceStatus
from tokentrail.live.runner import LiveRun, RunResult
from tokentrail.live.sinkset import SinkSet
from tokentrail.sinks.alert_store import AlertStore
from tokentrail.sinks.jsonl import JsonlSink
from tokentrail.state import StateStore

DEMO_FILES = ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "alerts.jsonl", "alerts.sqlite",
              "alerts.sqlite-wal", "alerts.sqlite-shm")


def run_live_demo(out_dir: Path, *, seconds: float = 5.0, events: int = 6000, seed: int = 7,
                  on_status: Callable[[list[SourceStatus]], None] | None = None) -> RunResult:
    """Serve simulated Okta events (attacks mixed in) from the imitation, a third at first and
    the rest in slices while the run goes on; watch it with the bundled pack for ``seconds``.
    The alerts land in ``out_dir``/alerts.jsonl and alerts.sqlite (a fresh run each time)."""
    from tokentrail.simulate import generate_items
    from tokentrail.sources.collectors.okta import OktaLogCollector
    from tokentrail.sources.imitate.okta import okta_app
    from tokentrail.sources.imitate.server import running

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        (out_dir / name).unlink(missing_ok=True)
    simulated = [e for _, _, e in generate_items(["all"], events=events, seed=seed, sources=("okta",))]
    first = len(simulated) // 3
    token = secrets.token_hex(16)
    app = okta_app(simulated[:first], tokens=[token])
    stop = threading.Event()
    rest = simulated[first:]
    step = max(1, len(rest) // max(1, int(seconds * 2) - 2))

    def grow() -> None:  # the org's log growing while it is watched
        for at in range(0, len(rest), step):
            if stop.wait(0.5):
                return
            app.state.store.extend(rest[at:at + step])

    rules = api.load_rules().rules
    state = StateStore(out_dir / "state.sqlite")
    state.hold()
    sinks = SinkSet([JsonlSink(out_dir / "alerts.jsonl"), AlertStore(out_dir / "alerts.sqlite")])
    try:
        with running(app) as imitation:
            collector = OktaLogCollector(imitation.url, token, poll_interval=0.3, limit=500)
            collector.name = "okta:demo"
            run = LiveRun(rules, state, sinks, [collector], on_status=on_status, status_every=0.25)
            grower = threading.Thread(target=grow, daemon=True)
            grower.start()
            timer = threading.Timer(seconds, stop.set)
            timer.start()
            try:
                result = run.run(stop)
            finally:
                stop.set()
                timer.cancel()
                grower.join(timeout=5)
        state.commit()
    finally:
        sinks.close()
        state.close()
    return result
