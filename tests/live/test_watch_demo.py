"""``tokentrail watch demo``: the imitation's log grows while it is watched; the events read are
reported, and the alerts land in both sinks, each once."""

from __future__ import annotations

import re
import sqlite3

import orjson
from typer.testing import CliRunner

from tokentrail.cli import app


def test_the_live_demo_reads_the_growing_log_and_alerts(tmp_path):
    result = CliRunner().invoke(app, ["watch", "demo", "--out", str(tmp_path), "--seconds", "4"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    summary = re.search(r"okta:demo: (\d+) events read, .* (\d+) alert\(s\)", result.stderr)
    assert summary, result.stderr
    events, alerts = map(int, summary.groups())
    assert events >= 2000  # at least the third served at the start; the rest came while watched
    written = [orjson.loads(line)["id"] for line in (tmp_path / "alerts.jsonl").read_bytes().splitlines()]
    assert alerts > 0 and len(written) == len(set(written)) == alerts
    db = sqlite3.connect(tmp_path / "alerts.sqlite")
    assert db.execute("SELECT count(*) FROM alerts").fetchone()[0] == alerts
    db.close()
    assert "tokentrail alerts list --store" in result.stderr
