"""Big JSON-lines files in the DuckDB engine go to the streaming engine's workers: exactly the
streaming scan's alerts, matches, counts, errors (file:line) and dead letters; a rule set with
Python rules stays in one process; a dead worker is neither a hang nor a lost alert; no worker
outlives the scan."""

from __future__ import annotations

import gzip
import io
import multiprocessing
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tokentrail import api
from tokentrail.cli import app
from tokentrail.content import RULES_DIR
from tokentrail.engine.batch import scan_batch
from tokentrail.rules.loader import LoadContext
from tokentrail.simulate import generate
from tokentrail.sources.limits import ReadLimits

PROBE = Path(__file__).parents[1] / "delivery" / "worker_kill_probe.py"
LIMIT = 4096  # bytes per line: the over-long line below is past it, every event is not


def mixed_lines(events: int, seed: int) -> list[bytes]:
    """Simulated events with what a scan must report or drop in place: malformed lines, a JSON
    value that is no object, an over-long line, an event of no known log type, duplicates (one
    that matches a rule, one that matches none) and blank lines."""
    lines = [orjson.dumps(e) for e in generate(["all"], events=events, seed=seed, sources=("okta",))]
    plain = next(raw for raw in lines if b'"user.account.lock"' not in raw and b"session.start" not in raw)
    matching = next(raw for raw in lines if b"session.start" in raw)
    for at, extra in [(50, b"{broken"), (900, b"[1, 2]"), (1500, b'{"x": "' + b"y" * LIMIT + b'"}'),
                      (2000, orjson.dumps({"no": "log type"})), (2500, plain), (2600, matching), (3000, b""),
                      (3500, b'{"eventType": NaN}')]:
        lines.insert(at, extra)
    return lines


@pytest.fixture(scope="module")
def log_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("jsonpar") / "okta.jsonl"
    path.write_bytes(b"\n".join(mixed_lines(4000, 21)) + b"\n")
    return path


@pytest.fixture(scope="module")
def bundled():
    return api.load_rules()  # the bundled pack without its Python rules: workers may run it


def outcome(scan, paths, rules, **kw):
    """What a scan gives that must not depend on the engine: alerts, matches, counts, errors,
    dead letters."""
    matches: list = []
    dead = io.BytesIO()
    result = scan([str(p) for p in paths], rules, on_match=matches.append, dead_letter=dead,
                  limits=ReadLimits(max_line_bytes=LIMIT), **kw)
    seen = {"alerts": [a.to_dict() for a in result.alerts],
            "matches": [(m.rule_id, m.event_id, m.source, m.line) for m in matches],
            "stats": result.stats, "errors": [str(e) for e in result.read_errors],
            "skipped": result.events_skipped, "dead": dead.getvalue()}
    return seen, result


def test_workers_give_exactly_the_streaming_scans_results(log_file, bundled, monkeypatch):
    monkeypatch.setattr("tokentrail.engine.parallel.CHUNK_BYTES", 64 << 10)  # many byte ranges
    alone, _ = outcome(api.scan, [log_file], bundled, workers=1)
    parallel, _ = outcome(api.scan, [log_file], bundled, workers=2, min_parallel_bytes=0)
    batch, result = outcome(scan_batch, [log_file], bundled, workers=2, min_parallel_bytes=0)
    assert alone["alerts"] and alone["stats"].duplicates == 2 and alone["stats"].unknown_events == 1
    assert batch == alone == parallel
    assert [e.line for e in result.read_errors] == [51, 901, 1501, 3501]  # each inserted at its index
    assert result.stream_workers == {"files": 1, "events": alone["stats"].events, "workers": 2}


def test_a_small_file_a_gz_file_and_one_worker_keep_the_in_process_path(log_file, bundled, tmp_path):
    below = scan_batch([str(log_file)], bundled, workers=2, min_parallel_bytes=log_file.stat().st_size + 1)
    one = scan_batch([str(log_file)], bundled, workers=1, min_parallel_bytes=0)
    packed = tmp_path / "okta.jsonl.gz"
    packed.write_bytes(gzip.compress(log_file.read_bytes()))
    compressed = scan_batch([str(packed)], bundled, workers=2, min_parallel_bytes=0)
    assert below.stream_workers == one.stream_workers == compressed.stream_workers == {}
    assert below.alerts and [a.id for a in below.alerts] == [a.id for a in one.alerts] == \
        [a.id for a in compressed.alerts]


def test_python_rules_keep_one_process_and_the_same_results(log_file, monkeypatch):
    monkeypatch.setattr("tokentrail.engine.parallel.CHUNK_BYTES", 64 << 10)
    with_python = api.load_rules([RULES_DIR], context=LoadContext(allow_python=True))
    assert any(r.format == "panther" for r in with_python.rules)
    alone, _ = outcome(api.scan, [log_file], with_python, workers=1)
    batch, result = outcome(scan_batch, [log_file], with_python, workers=2, min_parallel_bytes=0)
    assert result.stream_workers == {}
    assert batch["alerts"] == alone["alerts"] and batch["matches"] == alone["matches"]
    assert batch["errors"] == alone["errors"] and batch["dead"] == alone["dead"]


def test_parquet_before_a_big_file_shares_the_scan_and_no_worker_outlives_it(log_file, bundled, tmp_path):
    # The pool forks before DuckDB reads the Parquet file; the workers are gone after the scan.
    source, lake = tmp_path / "early.jsonl", tmp_path / "lake"
    source.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in generate(["all"], events=500, seed=5)))
    api.logs_to_parquet([source], lake)
    paths = [lake, log_file]
    one, _ = outcome(scan_batch, paths, bundled, workers=1)
    two, result = outcome(scan_batch, paths, bundled, workers=2, min_parallel_bytes=0)
    assert result.stream_workers["files"] == 1
    assert multiprocessing.active_children() == []
    assert two == one and one["alerts"] and one["stats"].duplicates == 2


def probe(path: Path, mode: str) -> dict:
    # A hang would be the bug: the timeout turns it into a failure.
    proc = subprocess.run([sys.executable, str(PROBE), str(path), mode, "duckdb"], capture_output=True, timeout=180)
    assert proc.returncode == 0, proc.stderr.decode()
    return orjson.loads(proc.stdout)


def test_a_worker_killed_mid_scan_has_its_range_run_again(log_file, bundled):
    expected = api.scan([str(log_file)], bundled, workers=1)
    got = probe(log_file, "once")
    assert got["killed"] == 1 and got["children"] == []
    assert got["events"] == expected.stats.events
    assert got["alerts"] == [a.id for a in expected.alerts]


def test_a_range_that_kills_its_worker_twice_fails_with_one_line(log_file):
    got = probe(log_file, "always")
    assert "a worker process died twice scanning bytes 0-" in got["error"]
    assert str(log_file) in got["error"] and "\n" not in got["error"]
    assert got["children"] == []


def cli_scan(*args: object) -> tuple[int, dict, str]:
    result = CliRunner().invoke(app, ["scan", *map(str, args), "--format", "json"], catch_exceptions=False)
    return result.exit_code, orjson.loads(result.stdout), result.stderr


def test_the_cli_says_the_streaming_engines_workers_matched_the_lines(log_file, monkeypatch):
    monkeypatch.setattr("tokentrail.engine.parallel.MIN_PARALLEL_BYTES", 0)  # read when the scan starts
    code, duck, err = cli_scan(log_file, "--engine", "duckdb", "-j", "2")
    stream_code, stream, _ = cli_scan(log_file, "--engine", "stream", "-j", "2")
    assert code == stream_code == 1  # the malformed lines
    workers = duck["summary"].pop("stream_workers")
    assert workers == {"files": 1, "events": stream["summary"]["events_read"], "workers": 2}
    assert (duck["summary"].pop("engine"), stream["summary"].pop("engine")) == ("duckdb", "stream")
    assert duck == stream and "stream_workers" not in stream["summary"]
    assert f"{workers['events']} events of 1 JSON-lines file(s) matched by the streaming engine in 2 worker" in err
    _, alone, err = cli_scan(log_file, "--engine", "duckdb", "-j", "1")
    assert "stream_workers" not in alone["summary"] and "worker processes" not in err
