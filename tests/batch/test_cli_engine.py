"""``tokentrail scan --engine duckdb`` prints what ``--engine stream`` prints."""

from __future__ import annotations

from typer.testing import CliRunner

from tokentrail.cli import app
from tokentrail.simulate import write_logs


def scan(*args):
    result = CliRunner().invoke(app, ["scan", *map(str, args)], env={"COLUMNS": "200"}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_duckdb_engine_prints_the_streaming_alerts(tmp_path):
    paths = write_logs(tmp_path / "day", ["all"], 2500, 3)
    bad = tmp_path / "day" / "broken.jsonl"
    bad.write_text('{"eventType": "user.session.start", "uuid": "z"\n', encoding="utf-8")
    stream = scan(tmp_path / "day", "--format", "jsonl", "--engine", "stream")
    duck = scan(tmp_path / "day", "--format", "jsonl", "--engine", "duckdb")
    # The same exit code, alerts and stderr, and a last line saying which engine matched.
    assert duck[:2] == stream[:2] and duck[2] == stream[2] + "engine: duckdb\n"
    code, out, err = duck
    assert code == 1 and out.count("\n") >= 5  # the malformed line makes the exit code 1
    assert "broken.jsonl:1" in err and "events read" in err
    assert len(paths) >= 3


def test_unknown_engine_is_refused(tmp_path):
    code, _, err = scan(tmp_path, "--engine", "flink")
    assert code == 2 and "flink" in err
