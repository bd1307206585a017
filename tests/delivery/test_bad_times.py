"""One bad value never ends a scan: an event time no datetime can hold is an unknown time."""

from __future__ import annotations

import json

import pytest
from support import TOKEN_RULE, okta_event, run, write_jsonl

from tokentrail import load_rules, scan
from tokentrail.alerting.models import iso
from tokentrail.schemas.timeparse import parse_time

BAD_TIMES = [1e300, -62135596801, "99999999999999999999999", "-99999999999999999999999", 1e19 * 1e9,
             "9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("value", BAD_TIMES)
def test_a_time_out_of_range_is_no_time(value):
    assert parse_time(value) is None


def test_the_edges_of_the_range_are_times():
    assert iso(parse_time("0001-01-01T00:00:00Z")) == "0001-01-01T00:00:00.000Z"
    assert iso(parse_time("9999-12-31T23:59:59Z")) == "9999-12-31T23:59:59.000Z"
    assert iso(1e300) is None and iso(float("-inf")) is None


@pytest.fixture
def mixed(tmp_path):
    rules = tmp_path / "rule.yml"
    rules.write_text(TOKEN_RULE)
    events = [okta_event(1)] + [okta_event(n + 2, published=v) for n, v in enumerate(BAD_TIMES)] + [okta_event(99)]
    return write_jsonl(tmp_path / "okta.jsonl", events), rules


def test_the_scan_keeps_every_alert_and_says_where_times_were_bad(mixed):
    logs, rules = mixed
    result = scan([logs], load_rules([rules]))
    assert result.alerts_delivered == len(BAD_TIMES) + 2
    assert sorted(e for a in result.alerts for e in a.event_ids) == sorted(
        [f"okta-{n}" for n in range(2, len(BAD_TIMES) + 2)] + ["okta-1", "okta-99"])
    assert result.stats.untimed == len(BAD_TIMES)
    assert result.stats.first_untimed == f"{logs}:2"
    assert all(a.to_dict()["first_time"] is None for a in result.alerts if a.event_ids[0] != "okta-1"
               and a.event_ids[0] != "okta-99")


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl"])
def test_every_output_format_finishes(mixed, fmt):
    logs, rules = mixed
    proc = run("scan", logs, "-r", rules, "--format", fmt)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    assert f"{len(BAD_TIMES)} matched event(s) had no usable time" in proc.stderr.decode()
    assert f"first at {logs}:2" in proc.stderr.decode()
    if fmt == "json":
        doc = json.loads(proc.stdout)
        assert len(doc["alerts"]) == len(BAD_TIMES) + 2 and doc["summary"]["untimed_events"] == len(BAD_TIMES)
    elif fmt == "jsonl":
        assert len(proc.stdout.splitlines()) == len(BAD_TIMES) + 2
