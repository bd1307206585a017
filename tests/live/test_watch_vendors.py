"""``tokentrail watch auth0`` and ``watch salesforce`` as real processes over the imitations,
with the bundled pack: every event once, the alerts of a scan, and a second run resumes at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import orjson

from tokentrail.simulate import generate_items
from tokentrail.sources.imitate import running
from tokentrail.sources.imitate.auth0 import api_form, auth0_app
from tokentrail.sources.imitate.salesforce import salesforce_app

SCRIPT = Path(sys.executable).parent / "tokentrail"
CLIENT = ("m2m-client-id", "m2m-client-secret-77c1")
TOKEN = "sf-access-token-4e2a"
ENV = {**os.environ, "CID": CLIENT[0], "CSECRET": CLIENT[1], "SF_TOKEN": TOKEN, "NO_COLOR": "1"}


@cache
def simulated(source: str) -> tuple[dict, ...]:
    return tuple(e for _, s, e in generate_items(["all"], events=1500, seed=5, sources=(source,)))


def scan_ids(tmp_path: Path, events) -> list[str]:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    done = subprocess.run([str(SCRIPT), "scan", str(path), "--format", "jsonl", "-j", "1"], env=ENV,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return sorted(orjson.loads(line)["id"] for line in done.stdout.splitlines())


def watch(*args: str) -> dict:
    done = subprocess.run([str(SCRIPT), "watch", *args, "--once", "--format", "json"], env=ENV,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return orjson.loads(done.stdout)["sources"][0]


def test_watch_auth0_with_client_credentials(tmp_path):
    events = simulated("auth0")
    alerts = tmp_path / "alerts.jsonl"
    with running(auth0_app(events, client=CLIENT)) as imitation:
        args = ["auth0", "--domain", imitation.url, "--client-id-env", "CID", "--client-secret-env", "CSECRET",
                "--state", str(tmp_path / "state.sqlite"), "--sink", f"jsonl:{alerts}"]
        first = watch(*args)
        second = watch(*args)
    assert first["events"] == len(events) and second["events"] == 0
    got = sorted(orjson.loads(line)["id"] for line in alerts.read_bytes().splitlines())
    assert got and got == scan_ids(tmp_path, [api_form(e) for e in events])


def test_watch_salesforce_event_log_files(tmp_path):
    events = simulated("salesforce")
    alerts = tmp_path / "alerts.jsonl"
    with running(salesforce_app(events, tokens=[TOKEN])) as imitation:
        args = ["salesforce", "--instance-url", imitation.url, "--token-env", "SF_TOKEN",
                "--state", str(tmp_path / "state.sqlite"), "--sink", f"jsonl:{alerts}"]
        first = watch(*args)
        second = watch(*args)
    assert first["events"] == len(events) and second["events"] == 0
    got = [orjson.loads(line)["id"] for line in alerts.read_bytes().splitlines()]
    assert got and len(got) == len(set(got))
    assert sorted(got) == scan_ids(tmp_path, events)


def test_watch_salesforce_signs_in_at_the_login_url(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tokentrail.sources.imitate.assertions import SignedApp

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "app.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    events = simulated("salesforce")
    app = salesforce_app(events, signed_app=SignedApp(CLIENT[0], public, "ops@acme.example"))
    with running(app) as instance, running(app.state.login_app) as login:
        status = watch("salesforce", "--instance-url", instance.url, "--login-url", login.url,
                       "--client-id-env", "CID", "--username", "ops@acme.example", "--private-key-file", str(pem),
                       "--state", str(tmp_path / "state.sqlite"), "--sink", f"jsonl:{tmp_path / 'alerts.jsonl'}")
        refused = subprocess.run([str(SCRIPT), "watch", "salesforce", "--instance-url", instance.url,
                                  "--login-url", "http://login.salesforce.com", "--client-id-env", "CID",
                                  "--username", "ops@acme.example", "--private-key-file", str(pem),
                                  "--state", str(tmp_path / "other.sqlite"), "--once"],
                                 env=ENV, capture_output=True, timeout=120)
    assert status["events"] == len(events)
    assert [(s.origin, s.grant_type, s.audience) for s in app.state.sign_ins] == \
        [(login.url, "urn:ietf:params:oauth:grant-type:jwt-bearer", login.url)]
    assert refused.returncode != 0 and b"must use https" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
