"""The DuckDB engine gives exactly the streaming engine's alerts, matches, counts and read errors."""

from __future__ import annotations

import gzip

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tokentrail import api
from tokentrail.content import RULES_DIR
from tokentrail.engine.batch import scan_batch
from tokentrail.rules.ir import All, Any, Cmp, Exists, Not
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import Grouping, LogSource, Rule
from tokentrail.simulate import write_logs


def both(paths, rules):
    """(streaming result, its matches), (batch result, its matches) over the same files."""
    seen_stream: list = []
    seen_batch: list = []
    stream = api.scan(paths, rules, workers=1, on_match=seen_stream.append)
    batch = scan_batch(paths, rules, on_match=seen_batch.append)
    return (stream, seen_stream), (batch, seen_batch)


def assert_same(paths, rules):
    (stream, ms), (batch, mb) = both(paths, rules)
    assert [(a.id, a.rule_id, a.event_ids, a.count) for a in batch.alerts] == \
        [(a.id, a.rule_id, a.event_ids, a.count) for a in stream.alerts]
    assert [(m.rule_id, m.event_id, m.source, m.line) for m in mb] == \
        [(m.rule_id, m.event_id, m.source, m.line) for m in ms]
    assert batch.stats == stream.stats
    assert [str(e) for e in batch.read_errors] == [str(e) for e in stream.read_errors]
    assert batch.events_skipped == stream.events_skipped
    assert [(e.rule_id, e.event_id, e.summary) for e in batch.rule_errors] == \
        [(e.rule_id, e.event_id, e.summary) for e in stream.rule_errors]
    return stream, batch


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    out = tmp_path_factory.mktemp("day")
    paths = write_logs(out, ["all"], 6000, 11, salesforce_csv=True)
    gz = out / "okta.jsonl.gz"
    gz.write_bytes(gzip.compress(paths["okta"].read_bytes()))
    return paths, gz


def test_bundled_pack_over_a_simulated_day(day):
    paths, gz = day
    loaded = api.load_rules([RULES_DIR], context=LoadContext(allow_python=True))
    assert any(r.format == "panther" for r in loaded.rules)  # Python rules ride along
    stream, _ = assert_same([str(p) for p in paths.values()] + [str(gz)], loaded)
    assert len(stream.alerts) >= 10 and stream.stats.matches > 100


def test_malformed_lines_are_reported_as_in_streaming(tmp_path):
    okta = {"eventType": "user.session.start", "published": "2026-01-01T00:00:00Z", "uuid": "u1",
            "actor": {"alternateId": "a@x"}}
    lines = [orjson.dumps(okta), b"", b'{"eventType": "user.session.start", "published": NaN, "uuid": "u2"}',
             b'{"eventType": "x", "uuid": "u3",}', b"[1, 2]", b"not json", b'{"uuid": "\xff"}',
             b'{"eventType": "user.session.start", "published": 1e400, "uuid": "u4"}',
             orjson.dumps({**okta, "uuid": "u5", "actor.alternateId": "dotted"}), b"   ",
             orjson.dumps({"unknown": "shape"})]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    rule = Rule(id="start", title="start", format="sigma", logsource=LogSource(product="okta"),
                logic=Cmp("eventType", "eq", ("user.session.start",)))
    stream, batch = assert_same([str(path)], [rule])
    assert batch.events_skipped == 6 and {e.line for e in batch.read_errors} == {3, 4, 5, 6, 7, 8}
    assert batch.stats.matches == 2 and batch.stats.unknown_events == 1


OKTA = LogSource(product="okta")
FIELDS = ["eventType", "actor.alternateId", "client.ipAddress", "target.type", "outcome.result", "debugContext.n"]
WORDS = ["user.session.start", "app.oauth2.token.grant", "User.Session.Start", "a@x.io", "10.1.2.3", "2001:db8::1",
         "SUCCESS", "FAILURE", "AppInstance", "é", "5", ""]


@st.composite
def rules(draw, n):
    out = []
    for i in range(n):
        leaves = []
        for _ in range(draw(st.integers(1, 3))):
            field = draw(st.sampled_from(FIELDS))
            op = draw(st.sampled_from(["eq", "contains", "startswith", "cidr", "regex", "gt"]))
            if op == "cidr":
                values = ("10.0.0.0/8",)
            elif op == "regex":
                values = (draw(st.sampled_from(["^user\\.", "(?i)oauth2", "x$"])),)
            elif op == "gt":
                values = (draw(st.sampled_from([3, "m"])),)
            else:
                values = tuple(draw(st.lists(st.sampled_from(WORDS + [None, 5]), min_size=1, max_size=2)))
            leaf = Cmp(field, op, values, cased=draw(st.booleans()))
            leaves.append(draw(st.sampled_from([leaf, Not(leaf), Exists(field)])))
        logic = draw(st.sampled_from([All, Any]))(tuple(leaves))
        grouping = draw(st.sampled_from([Grouping(), Grouping(group_by=("actor.alternateId",), window=600, threshold=2),
                                         Grouping(group_by=("eventType",), window=300,
                                                  distinct_field="client.ipAddress", distinct_threshold=2)]))
        out.append(Rule(id=f"r{i}", title=f"r{i}", format="sigma", logsource=OKTA, logic=logic, grouping=grouping))
    return out


leaf_values = st.one_of(st.sampled_from(WORDS), st.integers(-2, 9), st.booleans(), st.none(), st.text(max_size=3))


@st.composite
def events(draw, n):
    out = []
    for i in range(n):
        event = {"eventType": draw(st.sampled_from(WORDS[:3])), "uuid": f"e{i}",
                 "published": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z"}
        for key, inner in (("actor", "alternateId"), ("client", "ipAddress"), ("outcome", "result"),
                           ("debugContext", "n")):
            shape = draw(st.integers(0, 4))
            value = draw(leaf_values)
            if shape == 1:
                event[key] = {inner: value}
            elif shape == 2:
                event[f"{key}.{inner}"] = value
            elif shape == 3:
                event[key] = [{inner: value}, {inner: draw(leaf_values)}]
            elif shape == 4:
                event[key] = None
        if draw(st.booleans()):
            event["target"] = [{"type": draw(st.sampled_from(WORDS))} for _ in range(draw(st.integers(0, 2)))]
        out.append(event)
    return out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(rules(4), events(40))
@example([Rule(id="r0", title="r0", format="sigma", logsource=OKTA,
               logic=Cmp("actor.alternateId", "eq", ("a@x.io",)),
               grouping=Grouping(group_by=("actor.alternateId",), window=600, threshold=2))],
         [{"eventType": "user.session.start", "uuid": f"e{i}", "published": f"2026-01-01T00:00:0{i}Z",
           "actor": {"alternateId": "A@x.io"} if i % 2 else {"alternateId": ["a@x.io"]}} for i in range(4)])
def test_generated_rules_and_events(tmp_path_factory, rule_list, event_list):
    path = tmp_path_factory.mktemp("gen") / "okta.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in event_list) + b"\n")
    assert_same([str(path)], rule_list)
