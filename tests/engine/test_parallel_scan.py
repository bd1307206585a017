"""Parallel scanning gives exactly the one-process results: alerts, counts, errors, line numbers."""

import io

import orjson
import pytest

from tokentrail import load_rules, scan
from tokentrail.content import default_rule_paths
from tokentrail.errors import LogParseError
from tokentrail.simulate import generate


@pytest.fixture(scope="module")
def log_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("par") / "mixed.jsonl"
    lines = [orjson.dumps(e) for e in generate(["all"], events=6000, seed=11)]
    lines.insert(100, b"{broken")
    lines.insert(4000, b"[1, 2]")
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture(scope="module")
def rules():
    return load_rules(default_rule_paths())


def run(path, rules, workers, **kw):
    seen = []
    dead = io.BytesIO()
    result = scan([path], rules, workers=workers, min_parallel_bytes=0, on_match=seen.append,
                  dead_letter=dead, **kw)
    return result, [(m.rule_id, m.source, m.line, m.event_id) for m in seen], dead.getvalue()


def test_two_workers_match_one_process_exactly(log_file, rules, monkeypatch):
    monkeypatch.setattr("tokentrail.engine.parallel.CHUNK_BYTES", 64 << 10)  # many small chunks
    one, one_matches, one_dead = run(log_file, rules, 1)
    two, two_matches, two_dead = run(log_file, rules, 2)
    assert one.alerts and [a.to_dict() for a in two.alerts] == [a.to_dict() for a in one.alerts]
    assert two_matches == one_matches
    assert (two.stats.events, two.stats.matches, two.stats.matched_events) == (
        one.stats.events, one.stats.matches, one.stats.matched_events)
    assert [str(e) for e in two.read_errors] == [str(e) for e in one.read_errors]
    assert [e.line for e in two.read_errors] == [101, 4001]
    assert two_dead == one_dead == b"{broken\n[1, 2]\n"


def test_strict_stops_at_the_first_bad_line_with_its_number(log_file, rules, monkeypatch):
    monkeypatch.setattr("tokentrail.engine.parallel.CHUNK_BYTES", 64 << 10)
    with pytest.raises(LogParseError, match=r"mixed.jsonl:101"):
        scan([log_file], rules, workers=2, min_parallel_bytes=0, strict=True)


def test_python_rules_keep_the_scan_in_one_process(rules):
    from tokentrail.engine import StreamingEngine
    from tokentrail.engine.parallel import worker_count

    assert worker_count(0, StreamingEngine(rules.rules)) >= 1
    panther = load_rules([default_rule_paths()[0].parent / "panther"])
    assert worker_count(4, StreamingEngine(panther.rules)) == 1


def test_without_match_output_workers_send_digests_only_and_alerts_agree(log_file, rules, monkeypatch):
    monkeypatch.setattr("tokentrail.engine.parallel.CHUNK_BYTES", 64 << 10)
    one = scan([log_file], rules, workers=1)
    two = scan([log_file], rules, workers=2, min_parallel_bytes=0)
    assert one.alerts and [a.to_dict() for a in two.alerts] == [a.to_dict() for a in one.alerts]
    assert any(a.fields for a in two.alerts)  # output fields were read in the workers
    assert two.stats.matched_events == one.stats.matched_events


def test_warming_builds_the_functions_workers_inherit_and_records_nothing(log_file, rules):
    from tokentrail.engine import StreamingEngine
    from tokentrail.engine.parallel import _warm

    engine = StreamingEngine(rules.rules)
    assert not engine.plan.indexes["okta"].by_value
    _warm(engine, str(log_file))
    seen = {orjson.loads(line)["eventType"].lower() for line in log_file.read_bytes().splitlines()[:50]
            if line.startswith(b'{"') and b'"eventType"' in line}
    assert seen and seen <= set(engine.plan.indexes["okta"].by_value)
    assert (engine.stats.events, engine.stats.matches, engine.stats.matched_events) == (0, 0, 0)
