"""Tokens never leave the environment or file they were given in: a run of watch and of serve,
its every output grepped for them (stdout, stderr, JSON output, sinks, the state file and its
journal, the process title)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from live_support import (
    AUTH0_RULE,
    HookReceiver,
    auth0_event,
    free_port,
    mixed_events,
    post,
    wait_listening,
    write_rules,
)

from tokentrail.sources.imitate.faults import FaultPlan
from tokentrail.sources.imitate.okta import okta_app
from tokentrail.sources.imitate.server import running

SCRIPT = Path(sys.executable).parent / "tokentrail"
TOKEN = "okta-SECRET-81f0c2d7e5a94b36"
HOOK_SECRET = "hook-SECRET-0d9e8c7b6a5f"


def files_holding(directory: Path, secret: str) -> list[str]:
    return [str(p) for p in directory.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def process_title(pid: int) -> str:
    ps = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True, text=True)
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ps.stdout + cmdline


def test_watch_keeps_the_token_out_of_every_output(tmp_path):
    work = tmp_path / "run"
    work.mkdir()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    rules = write_rules(tmp_path)
    env = {**os.environ, "HOOK_SECRET": HOOK_SECRET, "NO_COLOR": "1"}
    plan = FaultPlan(fail_rate=0.2, kinds=("429", "5xx"), seed=3, reset_after=0.1)
    with HookReceiver() as hook, running(okta_app(mixed_events(400), tokens=[TOKEN], faults=plan)) as imitation:
        command = [str(SCRIPT), "watch", "okta", "--org-url", imitation.url, "--token-file", str(token_file),
                   "-r", str(rules), "--state", str(work / "state.sqlite"), "--sink", f"jsonl:{work / 'a.jsonl'}",
                   "--sink", f"sqlite:{work / 'a.sqlite'}", "--sink", f"webhook:{hook.url}",
                   "--webhook-secret-env", "HOOK_SECRET", "--interval", "0.2", "--page-size", "50",
                   "--format", "json"]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not hook.received and time.monotonic() < deadline:
            time.sleep(0.1)
        title = process_title(proc.pid)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        # A wrong token: the refusal is reported without the token it was refused.
        wrong = subprocess.run([*command[:5], "--token-env", "WRONG", *command[7:]],
                               env={**env, "WRONG": TOKEN + "x"}, capture_output=True, timeout=60)
    assert proc.returncode == 0, err.decode()
    assert orjson.loads(out)["sources"][0]["events"] > 0
    assert hook.received
    assert wrong.returncode == 1 and b"401" in wrong.stderr + wrong.stdout
    for secret in (TOKEN, HOOK_SECRET):
        assert secret not in title
        for stream in (out, err, wrong.stdout, wrong.stderr):
            assert secret.encode() not in stream
        assert files_holding(work, secret) == []
        assert all(secret.encode() not in body and secret not in str(headers) for headers, body in hook.received)


def test_serve_keeps_the_token_out_of_every_output(tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(AUTH0_RULE)
    work = tmp_path / "run"
    work.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(SCRIPT), "serve", "auth0-stream", "--listen", f"127.0.0.1:{port}", "--token-env", "STREAM",
               "-r", str(rules), "--state", str(work / "state.sqlite"), "--sink", f"jsonl:{work / 'a.jsonl'}",
               "--format", "json"]
    proc = subprocess.Popen(command, env={**os.environ, "STREAM": TOKEN}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    wait_listening(url, proc)
    title = process_title(proc.pid)
    assert post(url + "/", orjson.dumps([auth0_event(n) for n in range(5)]), TOKEN)[0] == 200
    refused = post(url + "/", b"[]", TOKEN[:-1])
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert orjson.loads(out)["alerts"] == 5
    assert refused[0] == 401 and TOKEN[:-1].encode() not in refused[1]
    assert TOKEN not in title
    assert TOKEN.encode() not in out + err
    assert files_holding(work, TOKEN) == []


def test_a_tenants_file_holding_a_token_is_refused(tmp_path):
    config = tmp_path / "tenants.yml"
    config.write_text(f"tenants:\n  - vendor: okta\n    org_url: https://acme.okta.com\n    token: {TOKEN}\n")
    done = subprocess.run([str(SCRIPT), "watch", "tenants", "--config", str(config), "--state",
                           str(tmp_path / "s.sqlite")], capture_output=True, timeout=60)
    assert done.returncode == 2
    assert b"token_env" in done.stderr and TOKEN.encode() not in done.stderr + done.stdout


def test_watch_keeps_the_private_key_and_its_assertions_out_of_every_output(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tokentrail.sources.imitate.assertions import SignedApp

    def pem(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    key_file, other_file = tmp_path / "app.pem", tmp_path / "other.pem"
    key_file.write_bytes(pem(key))
    other_file.write_bytes(pem(other))
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    work = tmp_path / "run"
    work.mkdir()
    rules = write_rules(tmp_path)
    env = {**os.environ, "OKTA_CLIENT_ID": "0oaServiceApp81", "NO_COLOR": "1"}
    app = okta_app(mixed_events(300), service_app=SignedApp("0oaServiceApp81", public))
    with running(app) as imitation:
        command = [str(SCRIPT), "watch", "okta", "--org-url", imitation.url, "--client-id-env", "OKTA_CLIENT_ID",
                   "--private-key-file", str(key_file), "-r", str(rules), "--state", str(work / "state.sqlite"),
                   "--sink", f"jsonl:{work / 'a.jsonl'}", "--once", "--page-size", "100", "--format", "json"]
        done = subprocess.run(command, env=env, capture_output=True, timeout=120)
        wrong = subprocess.run([*command[:8], str(other_file), *command[9:]], env=env, capture_output=True,
                               timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert orjson.loads(done.stdout)["sources"][0]["events"] == 300 and app.state.tokens.issued == 1
    assert wrong.returncode == 1 and b"signature is invalid" in wrong.stderr + wrong.stdout
    body = pem(key).split(b"\n")[1]  # a line of the key's base64
    for stream in (done.stdout, done.stderr, wrong.stdout, wrong.stderr):
        assert body not in stream and b"PRIVATE KEY" not in stream and b"eyJ" not in stream  # no JWT
    for path in work.rglob("*"):
        if path.is_file():
            assert body not in path.read_bytes() and b"eyJhbGciOiJSUzI1NiIs" not in path.read_bytes()
