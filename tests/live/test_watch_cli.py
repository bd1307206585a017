"""``tokentrail watch`` as a real process: a stop by SIGTERM, several tenants in one process,
alerts on standard output."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from live_support import mixed_events, write_rules

from tokentrail.sources.imitate.okta import okta_app
from tokentrail.sources.imitate.server import running

SCRIPT = Path(sys.executable).parent / "tokentrail"
ENV = {**os.environ, "TOKEN_A": "token-a-0001", "TOKEN_B": "token-b-0002", "NO_COLOR": "1"}


def jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def scan_alert_ids(tmp_path: Path, events: list[dict], rules: Path) -> list[str]:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    done = subprocess.run([str(SCRIPT), "scan", str(path), "-r", str(rules), "--format", "jsonl", "-j", "1"],
                          env=ENV, capture_output=True, timeout=120)
    return sorted(orjson.loads(line)["id"] for line in done.stdout.splitlines())


def test_sigterm_commits_and_exits_0_and_the_next_run_resumes(tmp_path):
    events = mixed_events(1500)
    rules = write_rules(tmp_path)
    alerts = tmp_path / "alerts.jsonl"
    with running(okta_app(events, tokens=["token-a-0001"])) as imitation:
        base = [str(SCRIPT), "watch", "okta", "--org-url", imitation.url, "--token-env", "TOKEN_A", "-r", str(rules),
                "--state", str(tmp_path / "state.sqlite"), "--sink", f"jsonl:{alerts}", "--page-size", "20",
                "--format", "json"]
        proc = subprocess.Popen(base, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while (not alerts.exists() or alerts.stat().st_size == 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        first = orjson.loads(out)
        assert first["stopped"] is True and first["errors"] == []
        assert 0 < first["sources"][0]["events"] < 1500  # stopped mid-way, not run to the end
        done = subprocess.run([*base, "--once"], env=ENV, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert orjson.loads(done.stdout)["sources"][0]["events"] == 1500 - first["sources"][0]["events"]
    ids = [a["id"] for a in jsonl(alerts)]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == scan_alert_ids(tmp_path, events, rules)


def test_two_tenants_in_one_process_keep_their_own_checkpoints_and_sources(tmp_path):
    rules = write_rules(tmp_path)
    a_events, b_events = mixed_events(300), mixed_events(200)
    for e in b_events:
        e["uuid"] = "b-" + e["uuid"]
    alerts = tmp_path / "alerts.jsonl"
    with running(okta_app(a_events, tokens=["token-a-0001"])) as a, \
            running(okta_app(b_events, tokens=["token-b-0002"])) as b:
        config = tmp_path / "tenants.yml"
        config.write_text(f"""\
tenants:
  - {{vendor: okta, name: acme, org_url: "{a.url}", token_env: TOKEN_A, page_size: 50}}
  - {{vendor: okta, name: globex, org_url: "{b.url}", token_env: TOKEN_B}}
""")
        command = [str(SCRIPT), "watch", "tenants", "--config", str(config), "-r", str(rules), "--state",
                   str(tmp_path / "state.sqlite"), "--sink", f"jsonl:{alerts}", "--once", "--format", "json"]
        done = subprocess.run(command, env=ENV, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        again = subprocess.run(command, env=ENV, capture_output=True, timeout=120)
    summary = {s["source"]: s for s in orjson.loads(done.stdout)["sources"]}
    assert summary["acme"]["events"] == 300 and summary["globex"]["events"] == 200
    assert [s["events"] for s in orjson.loads(again.stdout)["sources"]] == [0, 0]  # both resumed at the end
    got = jsonl(alerts)
    by_source = {name: sorted(a["id"] for a in got if a["source"] == name) for name in ("acme", "globex")}
    assert by_source["acme"] == scan_alert_ids(tmp_path, a_events, rules)
    assert len(by_source["globex"]) == len(scan_alert_ids(tmp_path, b_events, rules))


def test_alerts_go_to_standard_output_and_json_output_there_is_refused(tmp_path):
    rules = write_rules(tmp_path)
    events = mixed_events(100)
    with running(okta_app(events, tokens=["token-a-0001"])) as imitation:
        base = [str(SCRIPT), "watch", "okta", "--org-url", imitation.url, "--token-env", "TOKEN_A", "-r",
                str(rules), "--state", str(tmp_path / "state.sqlite"), "--once"]
        done = subprocess.run(base, env=ENV, capture_output=True, timeout=120)
        clash = subprocess.run([*base, "--format", "json"], env=ENV, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert sorted(orjson.loads(line)["id"] for line in done.stdout.splitlines()) == \
        scan_alert_ids(tmp_path, events, rules)
    assert b"100 events read" in done.stderr
    assert clash.returncode == 2 and b"standard output" in clash.stderr


def test_on_a_terminal_a_status_line_shows_rate_lag_checkpoint_and_alerts(tmp_path):
    import pty

    rules = write_rules(tmp_path)
    with running(okta_app(mixed_events(300), tokens=["token-a-0001"])) as imitation:
        leader, follower = pty.openpty()
        done = subprocess.run([str(SCRIPT), "watch", "okta", "--org-url", imitation.url, "--token-env", "TOKEN_A",
                               "-r", str(rules), "--state", str(tmp_path / "state.sqlite"), "--sink",
                               f"jsonl:{tmp_path / 'a.jsonl'}", "--once"],
                              env={**ENV, "COLUMNS": "200", "TERM": "xterm"}, stderr=follower,
                              stdout=subprocess.DEVNULL, timeout=120)
        os.close(follower)
        seen = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(leader, 65536):
                seen += chunk
        os.close(leader)
    assert done.returncode == 0
    text = seen.decode(errors="replace")
    assert "events/s · 300 events · lag " in text and "checkpoint " in text and "alerts · caught up" in text
