"""A dead worker is never a hang: kill -9 of a -j 2 worker reruns its byte range once; a range
that kills its worker twice fails the scan with one line; -j is capped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from support import run

from tokentrail import load_rules, scan
from tokentrail.content import default_rule_paths
from tokentrail.errors import ConfigError
from tokentrail.simulate import generate

PROBE = Path(__file__).with_name("worker_kill_probe.py")


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    path = tmp_path_factory.mktemp("workers") / "okta.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in generate(["all"], events=4000, seed=13)))
    return path


def probe(logs: Path, mode: str) -> dict:
    # A hang would be the bug: the timeout turns it into a failure.
    proc = subprocess.run([sys.executable, str(PROBE), str(logs), mode], capture_output=True, timeout=180)
    assert proc.returncode == 0, proc.stderr.decode()
    return orjson.loads(proc.stdout)


def test_a_worker_killed_mid_scan_has_its_range_run_again(logs):
    expected = scan([logs], load_rules(default_rule_paths()), workers=1)
    got = probe(logs, "once")
    assert got["killed"] == 1
    assert got["events"] == expected.stats.events
    assert got["alerts"] == [a.id for a in expected.alerts]


def test_a_range_that_kills_its_worker_twice_fails_with_one_line(logs):
    got = probe(logs, "always")
    assert "a worker process died twice scanning bytes 0-" in got["error"]
    assert str(logs) in got["error"] and "\n" not in got["error"]


def test_workers_are_capped_at_four_per_core(logs):
    with pytest.raises(ConfigError, match="--workers 100000"):
        scan([logs], load_rules(default_rule_paths()), workers=100000)
    with pytest.raises(ConfigError):
        scan([logs], load_rules(default_rule_paths()), workers=-1)
    cap = (os.cpu_count() or 1) * 4
    assert scan([logs], load_rules(default_rule_paths()), workers=cap).stats.events > 0


def test_the_cli_refuses_too_many_workers_in_one_line(logs):
    proc = run("scan", logs, "-j", "100000", "--format", "jsonl")
    assert proc.returncode != 0
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "--workers 100000" in lines[0] and "Traceback" not in lines[0]
