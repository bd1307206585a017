"""``tokentrail serve auth0-stream`` as a real process: formats, auth, size cap, redelivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from live_support import AUTH0_RULE, auth0_event, free_port, post, wait_listening

SCRIPT = Path(sys.executable).parent / "tokentrail"
TOKEN = "stream-token-5f1c0e9a7b"


class Receiver:
    def __init__(self, tmp_path: Path, *extra: str) -> None:
        rules = tmp_path / "rules.yml"
        rules.write_text(AUTH0_RULE)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.alerts = tmp_path / "alerts.jsonl"
        self.args = [str(SCRIPT), "serve", "auth0-stream", "--listen", f"127.0.0.1:{self.port}",
                     "--token-env", "STREAM_TOKEN", "-r", str(rules), "--state", str(tmp_path / "state.sqlite"),
                     "--sink", f"jsonl:{self.alerts}", "--sink", f"sqlite:{tmp_path / 'alerts.sqlite'}", *extra]
        self.env = {**os.environ, "STREAM_TOKEN": TOKEN, "NO_COLOR": "1"}

    def __enter__(self) -> Receiver:
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_listening(self.url, self.proc)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.out, self.err = self.proc.communicate(timeout=30)

    def ids(self) -> list[str]:
        return [orjson.loads(line)["id"] for line in self.alerts.read_bytes().splitlines()]


@pytest.mark.parametrize("form", ["lines", "array", "object"])
def test_each_body_form_is_taken_and_alerted_on(tmp_path, form):
    events = [auth0_event(n, "f" if n % 2 else "s") for n in range(6)]
    body = {"lines": b"\n".join(orjson.dumps(e) for e in events), "array": orjson.dumps(events),
            "object": orjson.dumps(events[1])}[form]
    with Receiver(tmp_path) as rx:
        status, answer = post(rx.url + "/", body, TOKEN)
        assert status == 200, answer
        expected = 1 if form == "object" else 3
        assert orjson.loads(answer)["taken"] == (1 if form == "object" else 6)
        assert len(rx.ids()) == expected  # durable before the 200
    assert rx.proc.returncode == 0, rx.err


def test_wrong_or_missing_token_is_401_and_nothing_is_taken(tmp_path):
    body = orjson.dumps([auth0_event(1)])
    with Receiver(tmp_path) as rx:
        assert post(rx.url + "/", body, None)[0] == 401
        assert post(rx.url + "/", body, TOKEN + "x")[0] == 401
        assert post(rx.url + "/", body, "Bearer " + TOKEN)[0] == 401
        assert rx.alerts.read_bytes() == b""


def test_oversize_body_is_413(tmp_path):
    with Receiver(tmp_path, "--max-body", "2KiB") as rx:
        big = orjson.dumps([auth0_event(n) for n in range(100)])
        assert len(big) > 2048
        assert post(rx.url + "/", big, TOKEN)[0] == 413
        assert post(rx.url + "/", orjson.dumps([auth0_event(1)]), TOKEN)[0] == 200


def test_redelivered_log_ids_are_dropped_across_restarts(tmp_path):
    first = [auth0_event(n) for n in (1, 3, 5)]
    with Receiver(tmp_path) as rx:
        assert post(rx.url + "/", orjson.dumps(first), TOKEN)[0] == 200
        status, answer = post(rx.url + "/", orjson.dumps(first[:2]), TOKEN)
        assert status == 200 and orjson.loads(answer)["taken"] == 0
    with Receiver(tmp_path) as rx:
        status, answer = post(rx.url + "/", orjson.dumps([*first, auth0_event(7)]), TOKEN)
        assert status == 200 and orjson.loads(answer)["taken"] == 1
        ids = rx.ids()
    assert len(ids) == 4 and len(set(ids)) == 4
