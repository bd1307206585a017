"""The webhook sink against a real local receiver: signed bodies, idempotency keys, retries of a
refusing receiver with one error line each, the bounded outbox and its back-pressure."""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
import time

import orjson
import pytest
from live_support import HookReceiver

from tokentrail.sinks.base import SinkError
from tokentrail.sinks.webhook import SIGNATURE_HEADER, WebhookSink, redacted_url
from tokentrail.state import StateStore


def records(n: int, start: int = 0) -> list[dict]:
    return [{"id": f"alert-{i}", "rule_id": "r", "severity": "high"} for i in range(start, start + n)]


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def state(tmp_path):
    store = StateStore(tmp_path / "state.sqlite")
    store.hold()
    yield store
    store.close()


def test_each_alert_is_posted_once_signed_with_its_id_as_idempotency_key(state):
    with HookReceiver() as hook:
        sink = WebhookSink(hook.url, state, secret=b"s3cret")
        sink.deliver(records(5))
        wait_for(lambda: len(hook.received) == 5)
        sink.close()
    assert hook.keys() == [f"alert-{i}" for i in range(5)]  # in the order given
    for headers, body in hook.received:
        assert orjson.loads(body)["id"] == headers["Idempotency-Key"]
        expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers[SIGNATURE_HEADER] == expected
    assert sink.pending == 0 and list(state.items(sink.ns)) == []


def test_a_refusing_receiver_is_retried_with_one_error_line_per_try(state):
    errors: list[str] = []
    with HookReceiver(fail_first=3) as hook:
        sink = WebhookSink(hook.url, state, on_error=errors.append, max_backoff=0.2)
        sink.deliver(records(2))
        wait_for(lambda: len(hook.received) == 2)
        sink.close()
    assert hook.keys() == ["alert-0", "alert-1"]
    assert len(errors) == 3 and all("HTTP 503" in e and "alert-0" in e for e in errors)
    assert all("secret-path" not in e for e in errors)  # the URL's path may be its secret
    assert hook.received[0][0].get(SIGNATURE_HEADER) is None


def test_a_full_outbox_holds_the_caller_back_until_stopped(state):
    # Nobody listens: the outbox fills; deliver waits for room and gives up when told to stop.
    sink = WebhookSink("http://127.0.0.1:9/hook", state, outbox=3, max_backoff=0.1, timeout=0.5)
    sink.deliver(records(3))
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with pytest.raises(SinkError, match="outbox full"):
        sink.deliver(records(1, 3), stop)
    assert 0.4 < time.monotonic() - started < 10
    assert sink.pending == 3
    sink.close()


def test_the_outbox_a_run_left_is_sent_by_the_next(tmp_path):
    # The port is held bound but not listening until the receiver takes that very socket over:
    # nothing can accept an alert before the test says so, and no other test can take the port.
    # (Two flakes came from giving the port up between the runs, and from the second sink's
    # thread sending an alert before its outbox was counted.)
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{held.getsockname()[1]}/hooks/secret-path"
    store = StateStore(tmp_path / "state.sqlite")
    store.hold()
    sink = WebhookSink(url, store, max_backoff=0.1, timeout=0.5)  # nobody listens yet
    sink.deliver(records(4))
    sink.close()
    store.commit()
    store.close()
    store = StateStore(tmp_path / "state.sqlite")
    store.hold()
    again = WebhookSink(url, store, max_backoff=0.2, timeout=0.5)
    assert again.pending == 4  # the first run's outbox: nothing can accept it yet
    with HookReceiver(sock=held) as hook:
        wait_for(lambda: len(hook.received) == 4)
        again.close()
    store.close()
    assert hook.keys() == [f"alert-{i}" for i in range(4)]
    assert again.pending == 0


def test_the_url_is_shown_without_its_path():
    assert redacted_url("https://hooks.example.com/services/T0/B0/XyZ?token=1") == "https://hooks.example.com/…"
    assert redacted_url("http://user:pw@127.0.0.1:8080/x") == "http://127.0.0.1:8080/…"
