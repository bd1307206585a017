"""``--sink SPEC`` into sinks: ``jsonl:PATH``, ``sqlite:PATH``, ``webhook:URL`` or ``-``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from tokentrail.errors import ConfigError
from tokentrail.sinks.alert_store import AlertStore
from tokentrail.sinks.base import Sink, SinkError
from tokentrail.sinks.jsonl import JsonlSink
from tokentrail.sinks.stream import StreamSink
from tokentrail.sinks.webhook import WebhookSink
from tokentrail.state import StateStore

KINDS = ("jsonl", "sqlite", "webhook")


def open_sinks(specs: Sequence[str], state: StateStore, *, webhook_secret: bytes | None = None,
               on_error: Callable[[str], None] | None = None) -> list[Sink]:
    """The sinks ``specs`` name, opened; ``ConfigError`` for a bad spec, ``SinkError`` for a sink
    that cannot be opened (what was opened is closed again)."""
    sinks: list[Sink] = []
    try:
        for spec in specs:
            sinks.append(_open(spec, state, webhook_secret, on_error))
    except (ConfigError, SinkError):
        for sink in sinks:
            sink.close()
        raise
    names = [s.name for s in sinks]
    if len(set(names)) != len(names):
        for sink in sinks:
            sink.close()
        raise ConfigError("--sink: the same sink is named twice")
    return sinks


def _open(spec: str, state: StateStore, secret: bytes | None, on_error) -> Sink:
    if spec == "-":
        return StreamSink(sys.stdout.buffer)
    kind, sep, target = spec.partition(":")
    if not sep or kind not in KINDS or not target:
        raise ConfigError(f"--sink {spec.split(':', 1)[0]}…: expected jsonl:PATH, sqlite:PATH, webhook:URL or -")
    if kind == "jsonl":
        return JsonlSink(target)
    if kind == "sqlite":
        return AlertStore(target)
    return WebhookSink(target, state, secret=secret, on_error=on_error)
