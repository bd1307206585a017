"""A dead worker is never a hang: kill -9 of a -j 2 worker reruns its byte range once; a range
that kills its worker twice fails the scan with one line; -j is capped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from support import jsonl_ids, run, tokentrail

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


def probe(logs: Path, mode: str, timeout: float = 180, env: dict | None = None) -> dict:
    # A hang would be the bug: the timeout turns it into a failure.
    proc = subprocess.run([sys.executable, str(PROBE), str(logs), mode], capture_output=True,
                          timeout=timeout, env=None if env is None else {**os.environ, **env})
    assert proc.returncode == 0, proc.stderr.decode()
    return orjson.loads(proc.stdout)


def test_a_worker_killed_mid_scan_has_its_range_run_again(logs):
    expected = scan([logs], load_rules(default_rule_paths()), workers=1)
    got = probe(logs, "once")
    assert got["killed"] == 1
    assert got["events"] == expected.stats.events
    assert got["alerts"] == [a.id for a in expected.alerts]


def test_a_worker_killed_while_sending_its_result_is_not_a_hang(logs, tmp_path):
    # Its half-sent result left the executor reading forever (1 run in 4 of the test above
    # under load, when the kill landed mid-send): the parent must notice the death itself.
    marker = tmp_path / "died"
    expected = scan([logs], load_rules(default_rule_paths()), workers=1)
    got = probe(logs, "midsend", timeout=60, env={"PROBE_MARKER": str(marker)})
    assert marker.exists()
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


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def test_kill_9_of_a_cli_worker_is_neither_a_hang_nor_a_lost_alert(tmp_path):
    # Workers start only for files of 32 MiB or more: repeat simulated events under new ids.
    events = [orjson.loads(orjson.dumps(e)) for e in generate(["all"], events=3000, seed=17, sources=("okta",))]
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as fh:
        n = 0
        while fh.tell() < (33 << 20):
            for e in events:
                e["uuid"] = f"big-{n}"
                n += 1
                fh.write(orjson.dumps(e) + b"\n")
    alone = run("scan", path, "-j", "1", "--format", "jsonl", timeout=300)
    assert alone.returncode == 0, alone.stderr.decode()
    proc = tokentrail("scan", path, "-j", "2", "--format", "jsonl")
    try:
        victims: list[int] = []
        for _ in range(400):  # up to 20 s for the pool to start
            victims = children(proc.pid)
            if victims or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert victims, "no worker process started"
        os.kill(victims[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=300)  # a hang is the bug this guards against
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err.decode()
    assert sorted(jsonl_ids(out)) == sorted(jsonl_ids(alone.stdout))
