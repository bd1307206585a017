"""Digests read in SQL (engine/batch_digest.py) give the streaming engine's alerts: group keys,
distinct counts, new terms, output fields and correlation keys over nested fields, lists, NULLs
and missing fields, and literal dotted keys; a unit whose reads the schema leaves in doubt keeps
the Python digest, with the same alerts."""

from __future__ import annotations

import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from batch.test_batch_engine import OKTA, events
from batch.test_typed_parquet import as_parquet
from tokentrail import api
from tokentrail.engine.batch import BatchEngine, scan_batch
from tokentrail.rules.ir import Cmp, Exists
from tokentrail.rules.model import Correlation, CorrelationStep, Grouping, OutputField, Rule

TIME = "2026-01-01T00:{:02d}:{:02d}Z"


def okta_event(i: int, **fields) -> dict:
    return {"eventType": "user.session.start", "uuid": f"e{i}", "published": TIME.format(i // 60, i % 60), **fields}


def rule(rid: str, grouping: Grouping = Grouping(), outputs: tuple[str, ...] = (), logic=None) -> Rule:
    return Rule(id=rid, title=rid, format="sigma", logsource=OKTA,
                logic=logic or Cmp("eventType", "eq", ("user.session.start",)), grouping=grouping,
                output_fields=tuple(OutputField(f, f) for f in outputs))


def digested(parquet, rule_list) -> set[str]:
    """The ids of the rules whose matches in this file (as Okta events) are digested in SQL."""
    engine = BatchEngine(rule_list)
    digests = engine._typed_statement(pq.read_schema(parquet)).digests
    return {d.unit.rule.id for d in digests.values() if d.unit.log_type == "okta"}


def assert_same(parquet, jsonl, rule_list):
    stream = api.scan([str(jsonl)], rule_list, workers=1)
    batch = scan_batch([str(parquet)], rule_list)
    assert [(a.id, a.rule_id, a.group_key, a.event_ids, a.count, a.first_time, a.last_time, dict(a.fields))
            for a in batch.alerts] == \
        [(a.id, a.rule_id, a.group_key, a.event_ids, a.count, a.first_time, a.last_time, dict(a.fields))
         for a in stream.alerts]
    assert (batch.stats.matches, batch.stats.events, batch.stats.matched_events, batch.stats.by_rule) == \
        (stream.stats.matches, stream.stats.events, stream.stats.matched_events, stream.stats.by_rule)
    return stream, batch


def test_group_by_distinct_and_outputs_over_nested_lists_and_missing_fields(tmp_path):
    who = ["a@x.io", "b@x.io", None]
    rows = [okta_event(i, actor={"alternateId": who[i % 3], "id": f"id{i % 2}"} if i % 5 else None,
                       client={"ipAddress": f"10.0.0.{i % 4}", "zone": None if i % 2 else "z"},
                       target=[{"type": "User", "displayName": None if i % 3 else f"t{i}"},
                               {"type": "App", "displayName": f"app{i}"}],
                       debugContext={"debugData": {"scopes": [f"s{i}", "okta.users.read"] if i % 4 else []}},
                       outcome={"result": "SUCCESS", "count": i, "ok": i % 2 == 0})
            for i in range(60)]
    parquet, jsonl = as_parquet(tmp_path, rows)
    rules = [
        rule("distinct", Grouping(group_by=("actor.id",), window=600, distinct_field="client.ipAddress",
                                  distinct_threshold=3), outputs=("actor.alternateId", "target.displayName")),
        rule("group", Grouping(group_by=("actor.alternateId", "client.zone"), window=300, threshold=2),
             outputs=("outcome.count", "outcome.ok", "debugContext.debugData.scopes", "no.such.field")),
        rule("single", outputs=("target.displayName", "client.zone", "actor.alternateId")),
        rule("terms", Grouping(new_terms=("target.displayName", "actor.alternateId"), history=60)),
    ]
    assert digested(parquet, rules) == {"distinct", "group", "single", "terms"}
    stream, _ = assert_same(parquet, jsonl, rules)
    assert len(stream.alerts) > 60 and any(a.fields.get("actor.alternateId") is None for a in stream.alerts)


def test_literal_dotted_keys_beside_nested_objects(tmp_path):
    # Flattened and nested spellings of the same fields in one file: a column "actor.alternateId"
    # beside the struct "actor"; the nested value wins where both exist, as in streaming.
    rows = []
    for i in range(30):
        if i % 3 == 0:
            extra = {"actor.alternateId": f"flat{i % 2}"}
        elif i % 3 == 1:
            extra = {"actor": {"alternateId": f"nest{i % 2}"}}
        else:
            extra = {"actor": {"alternateId": f"nest{i % 2}"}, "actor.alternateId": "both"}
        rows.append(okta_event(i, **extra))
    parquet, jsonl = as_parquet(tmp_path, rows)
    rules = [rule("dotted", Grouping(group_by=("actor.alternateId",), window=3600, threshold=2),
                  outputs=("actor.alternateId",))]
    assert digested(parquet, rules) == {"dotted"}
    stream, _ = assert_same(parquet, jsonl, rules)
    assert {a.group_key for a in stream.alerts} >= {("flat0",), ("nest1",)}


def test_correlation_keys_are_read_in_sql(tmp_path):
    rows = [okta_event(i, eventType="user.session.start" if i % 2 else "user.account.lock",
                       actor={"alternateId": f"u{i % 3}"}, client={"ipAddress": f"10.0.0.{i % 5}"})
            for i in range(40)]
    parquet, jsonl = as_parquet(tmp_path, rows)
    base = rule("lock", logic=Cmp("eventType", "eq", ("user.account.lock",)))
    count = Rule(id="burst", title="burst", format="sigma", logsource=OKTA,
                 logic=Correlation(kind="value_count", steps=(CorrelationStep(name="lock", rule_ref="lock",
                                                                               by=("actor.alternateId",)),),
                                   timespan=3600, value_field="client.ipAddress", condition=("gte", 2)))
    rules = [base, count]
    assert "lock" in digested(parquet, rules)
    stream, _ = assert_same(parquet, jsonl, rules)
    assert any(a.rule_id == "burst" for a in stream.alerts)


def test_reads_in_doubt_keep_the_python_digest(tmp_path):
    # Floats (their text differs between DuckDB and Python) and lists of lists have no SQL digest.
    rows = [okta_event(i, outcome={"score": i / 3}, target=[{"tags": [[f"a{i}"], ["b"]]}]) for i in range(10)]
    parquet, jsonl = as_parquet(tmp_path, rows)
    rules = [rule("float", Grouping(group_by=("outcome.score",), window=60, threshold=1)),
             rule("nested", outputs=("target.tags",)),
             rule("plain", Grouping(group_by=("uuid",), window=60))]
    assert digested(parquet, rules) == {"plain"}
    assert_same(parquet, jsonl, rules)


grouping = st.sampled_from([
    Grouping(),
    Grouping(group_by=("actor.alternateId",), window=600, threshold=2),
    Grouping(group_by=("eventType", "client.ipAddress"), window=300, distinct_field="outcome.result",
             distinct_threshold=2),
    Grouping(group_by=("target.type",), window=900, threshold=1),
    Grouping(new_terms=("actor.alternateId",), history=30),
])
outputs = st.lists(st.sampled_from(["actor.alternateId", "client.ipAddress", "target.type", "outcome.result",
                                    "debugContext.n", "missing.field"]), max_size=3, unique=True)


@st.composite
def digest_rules(draw, n):
    out = []
    for i in range(n):
        field = draw(st.sampled_from(["actor.alternateId", "client.ipAddress", "target.type", "outcome.result"]))
        logic = draw(st.sampled_from([Exists(field), Cmp("eventType", "eq", ("user.session.start",)),
                                      Cmp(field, "contains", ("a",))]))
        out.append(rule(f"r{i}", draw(grouping), tuple(draw(outputs)), logic))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(digest_rules(3), events(40))
@example([rule("r0", Grouping(group_by=("target.type",), window=900), ("target.type",), Exists("target.type"))],
         [okta_event(i, target=[{"type": None}, {"type": f"t{i % 2}"}] if i % 3 else []) for i in range(6)])
def test_generated_groupings_and_outputs(tmp_path_factory, rule_list, event_list):
    parquet, jsonl = as_parquet(tmp_path_factory.mktemp("digest"), event_list)
    assert_same(parquet, jsonl, rule_list)
