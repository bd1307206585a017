"""``tokentrail imitate`` as a real process: it announces its address, serves the collector, takes
appended events, refuses a wrong token, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import orjson
import pytest

from tokentrail.sources.collectors import Auth0LogCollector, OktaLogCollector
from tokentrail.sources.imitate.okta import okta_key

SCRIPT = Path(sys.executable).parent / "tokentrail"
TOKEN = "cli-imitation-token-42"


def start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], dict]:
    process = subprocess.Popen([str(SCRIPT), "imitate", *args, "--format", "json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "IMITATE_TOKEN": TOKEN, **(env or {})})
    line = process.stdout.readline() if process.stdout else b""
    try:
        return process, orjson.loads(line)
    except orjson.JSONDecodeError:
        process.kill()
        process.wait(timeout=20)
        pytest.fail(f"imitate did not start: {line!r} {process.stderr.read().decode() if process.stderr else ''}")


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=20)


def caught_up(collector) -> list[dict]:
    got: list[dict] = []
    flag = threading.Event()
    for batch in collector.batches(None, flag):
        got.extend(batch.events)
        if batch.caught_up:
            flag.set()
    return got


def test_okta_imitation_from_a_file_serves_the_collector_and_appends(tmp_path):
    from tokentrail.simulate import generate_items

    events = [e for _, _, e in generate_items(["all"], events=800, seed=5, sources=("okta",))]
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events[:-50]) + b"{not json\n")
    process, info = start("okta", "--events", str(path), "--token-env", "IMITATE_TOKEN")
    try:
        assert info["events"] == len(events) - 50 and info["skipped"] == 1
        assert info["url"] == f"http://127.0.0.1:{info['port']}"
        got = caught_up(OktaLogCollector(info["url"], TOKEN, poll_interval=0.01))
        assert [e["uuid"] for e in got] == [e["uuid"] for e in sorted(events[:-50], key=okta_key)]
        added = httpx.post(info["url"] + "/_imitate/events", headers={"Authorization": f"SSWS {TOKEN}"},
                           content=b"\n".join(orjson.dumps(e) for e in events[-50:]))
        assert added.json()["added"] == 50
        wrong = httpx.get(info["url"] + "/api/v1/logs", headers={"Authorization": "SSWS nope"})
        assert wrong.status_code == 401 and wrong.json()["errorCode"] == "E0000011"
    finally:
        code = stop(process)
    assert code == 1  # the unreadable line is reported in the exit status, after serving
    assert process.stderr is not None and b"okta.jsonl:751: " in process.stderr.read()


def test_auth0_imitation_with_client_credentials_and_simulated_events():
    env = {"IMITATE_ID": "cli-client", "IMITATE_SECRET": "cli-secret-9"}
    process, info = start("auth0", "--simulate", "600", "--client-id-env", "IMITATE_ID",
                          "--client-secret-env", "IMITATE_SECRET", env=env)
    try:
        got = caught_up(Auth0LogCollector(info["url"], client_id="cli-client", client_secret="cli-secret-9",
                                          poll_interval=0.01))
        assert len(got) == info["events"] > 100
        assert [e["log_id"] for e in got] == sorted(e["log_id"] for e in got)
    finally:
        assert stop(process) == 0


def test_missing_credentials_are_one_clear_error():
    result = subprocess.run([str(SCRIPT), "imitate", "okta", "--token-env", "NO_SUCH_VARIABLE_SET"],
                            capture_output=True, env={k: v for k, v in os.environ.items() if k != "NO_SUCH_VARIABLE_SET"},
                            timeout=60)
    assert result.returncode == 2
    assert b"NO_SUCH_VARIABLE_SET is not set" in result.stderr and result.stderr.count(b"\n") == 1


def test_salesforce_imitation_and_watch_sign_in_with_a_private_key(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private, public = tmp_path / "app.pem", tmp_path / "app.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    env = {"SF_CONSUMER_KEY": "3MVG9-cli-app"}
    process, info = start("salesforce", "--simulate", "300", "--client-id-env", "SF_CONSUMER_KEY",
                          "--public-key-file", str(public), "--username", "ops@acme.example", env=env)
    try:
        def watch(user: str) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run([str(SCRIPT), "watch", "salesforce", "--instance-url", info["url"],
                                   "--client-id-env", "SF_CONSUMER_KEY", "--username", user,
                                   "--private-key-file", str(private), "--state", str(tmp_path / f"{user}.sqlite"),
                                   "--sink", f"jsonl:{tmp_path / 'alerts.jsonl'}", "--once", "--format", "json"],
                                  env={**os.environ, **env}, capture_output=True, timeout=120)

        good, stranger = watch("ops@acme.example"), watch("stranger@acme.example")
    finally:
        assert stop(process) == 0
    assert good.returncode == 0, good.stderr.decode()
    assert orjson.loads(good.stdout)["sources"][0]["events"] == info["events"] > 0
    assert stranger.returncode == 1 and b"invalid_grant" in stranger.stderr + stranger.stdout
    assert b"eyJ" not in stranger.stderr + stranger.stdout + good.stderr + good.stdout
