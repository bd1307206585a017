"""Panther Python rules that lift are matched in the DuckDB engine's SQL: the alerts, matches and
counts stay the streaming engine's, and far fewer events are handed to Python."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, example, given, settings

from engine.lifted_support import count_python, lifted_ids, okta_events, python_rules, write_rules
from tokentrail import api
from tokentrail.alerting.delivery import AlertGate
from tokentrail.content import RULES_DIR
from tokentrail.engine.batch import BatchEngine
from tokentrail.engine.lifted import lifted_condition
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import PythonLogic
from tokentrail.simulate import write_logs
from tokentrail.sources.files import LogReader

SEED_RULE = "Salesforce.OAuth.Credential.Abuse"


def stream_scan(paths, rules):
    seen: list = []
    # Duplicates kept: the DuckDB engine keys only the events it matched (see scan_batch), and
    # the simulated day holds Salesforce's events twice (JSON and CSV).
    result = api.scan(paths, rules, workers=1, on_match=seen.append, keep_duplicates=True)
    return result, seen


def batch_scan(paths, rules, *, lift_python=True):
    """The DuckDB engine's alerts, matches, stats and rule errors, and how many times each
    Python rule was asked about an event."""
    seen: list = []
    alerts: list = []
    engine = BatchEngine(rules, on_match=seen.append, lift_python=lift_python)
    counters = count_python(engine.stream)
    AlertGate(alerts.append)(engine.scan_paths(paths, LogReader()))  # as scan_batch delivers them
    alerts.sort(key=lambda a: (a.first_time or 0.0, a.rule_id, a.id))
    return alerts, seen, engine, sum(c.asked for c in counters)


def assert_same(paths, rules, *, lift_python=True):
    stream, ms = stream_scan(paths, rules)
    alerts, mb, engine, asked = batch_scan(paths, rules, lift_python=lift_python)
    assert [(a.id, a.rule_id, a.event_ids, a.count, a.title) for a in alerts] == \
        [(a.id, a.rule_id, a.event_ids, a.count, a.title) for a in stream.alerts]
    assert [(m.rule_id, m.event_id, m.line) for m in mb] == [(m.rule_id, m.event_id, m.line) for m in ms]
    assert engine.stream.stats == stream.stats
    return stream, engine, asked


def test_bundled_pack_seed_rule_is_decided_in_sql(tmp_path):
    """The bundled pack's one Python rule that lifts (seed 002's) is coded in SQL. With the
    whole pack, Salesforce events still all go to Python (the session-key rule keeps state and
    does not lift); with the pack's Python rules that do not lift left out, only the events SQL
    matched reach the seed rule's Python — the alerts stay the streaming engine's either way."""
    loaded = api.load_rules([RULES_DIR], context=LoadContext(allow_python=True))
    assert lifted_ids(loaded.rules) == {SEED_RULE}
    engine = BatchEngine(loaded.rules)
    coded = [u.rule.id for units in engine.by_type.values() for u in units if u.python is not None]
    assert coded == [SEED_RULE, SEED_RULE]  # salesforce and salesforce.rtem
    assert {"okta", "auth0", "salesforce"} <= engine.python_types

    paths = write_logs(tmp_path, ["all"], 3000, 5, salesforce_csv=True)
    files = [str(p) for p in paths.values()]
    stream, _, _ = assert_same(files, loaded.rules)
    assert stream.stats.by_rule.get(SEED_RULE, 0) > 0

    kept = [r for r in loaded.rules if not isinstance(r.logic, PythonLogic) or r.id == SEED_RULE]
    stream, engine, asked = assert_same(files, kept)
    _, _, asked_before = assert_same(files, kept, lift_python=False)
    assert not engine.python_types & {"salesforce", "salesforce.rtem"}
    salesforce = sum(n for lt, n in _events_by_type(files).items() if lt.startswith("salesforce"))
    matched = stream.stats.by_rule[SEED_RULE]
    # Before: every Salesforce event met the seed rule's Python. Now the CSV copy of the day is
    # decided in SQL and only its matched events meet it; the JSON-lines copy goes through the
    # triage (engine/batch_json.py), which hands every event of a log type with a Python rule to
    # the streaming engine whole, so those still meet it.
    csv = sum(n for lt, n in _events_by_type([f for f in files if f.endswith(".csv")]).items()
              if lt.startswith("salesforce"))
    assert csv and asked_before == salesforce and matched <= asked <= salesforce - csv + matched


def _events_by_type(files):
    from tokentrail.engine.stream import StreamingEngine

    engine = StreamingEngine([])
    counts: dict[str, int] = {}
    for path in files:
        for event, _src, _line in LogReader().read_file(path):
            found, _, _ = engine.match(event)
            counts[found] = counts.get(found, 0) + 1
    return counts


ODD_EXAMPLE = [
    ("AnalysisType: rule\nRuleID: Gen.Lift.0\nDisplayName: g\nEnabled: true\nFilename: gen_0.py\n"
     "LogTypes: [Okta.SystemLog]\nSeverity: Low\n",
     'def rule(event):\n    return not (event.deep_get("actor", "type") == "true" or bool(event.get("flag")))\n\n\n'
     'def title(event):\n    return "one group"\n'),
]
ODD_EVENTS = [
    {"eventType": "user.session.start", "uuid": f"e{i}", "published": f"2026-01-01T00:00:0{i}Z", **extra}
    for i, extra in enumerate([{"actor": {"type": True}}, {"actor": {"TYPE": "true"}}, {"FLAG": "x"},
                               {"flag": "false"}, {"flag": {}}, {"actor": [{"type": "true"}]}, {"flag": 0}])
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(python_rules(3), okta_events(40))
@example(ODD_EXAMPLE, ODD_EVENTS)
def test_generated_lifted_rules_agree_with_streaming(tmp_path_factory, rule_sources, event_list):
    """Generated Python rules that lift, over events whose fields hold booleans, numbers, null,
    objects, lists, "true"/"false"/"0" and keys in another case: the same alerts, matches and
    counts as the streaming engine (which runs the Python on every event)."""
    folder = tmp_path_factory.mktemp("lift")
    loaded = api.load_rules(write_rules(folder, rule_sources), context=LoadContext(allow_python=True))
    assert not loaded.errors and len(lifted_ids(loaded.rules)) == len(rule_sources), \
        [r.logic.not_lifted for r in loaded.rules]
    path = folder / "okta.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in event_list) + b"\n")
    _, engine, asked = assert_same([str(path)], loaded.rules)
    assert all(lifted_condition(u) is not None for u in engine.by_type["okta"] if u.python is not None)
    assert "okta" not in engine.python_types
    assert asked <= len(event_list) * len(rule_sources)
