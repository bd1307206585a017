"""The Spark engine against the streaming engine: the same alerts (ids, event ids), the same
matches, the same counts and the same read errors. One local[2] session serves every test."""

from __future__ import annotations

import io
import shutil

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from tokentrail import api
from tokentrail.content import RULES_DIR
from tokentrail.errors import ConfigError
from tokentrail.rules.ir import Cmp
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import LogSource, Rule
from tokentrail.simulate import write_logs

if shutil.which("java") is None:
    pytest.skip("the Spark tests need Java (java not on PATH)", allow_module_level=True)
pytest.importorskip("pyspark", reason="the Spark tests need PySpark: pip install 'tokentrail[spark]'")

from batch.test_batch_engine import events, rules  # noqa: E402
from tokentrail.engine.spark import parse_conf, scan_spark, variant_path  # noqa: E402


def assert_same(paths, rules, spark, *, limits=None, dead_letter: bool = False, **spark_kwargs):
    """Scan ``paths`` with the streaming engine and with Spark (``spark_kwargs`` to ``scan_spark``)
    and assert the same alerts, matches, counts, read errors and, with ``dead_letter``, dead-letter
    bytes."""
    seen_stream: list = []
    seen_spark: list = []
    dead_stream, dead_spark = (io.BytesIO(), io.BytesIO()) if dead_letter else (None, None)
    stream = api.scan(paths, rules, workers=1, on_match=seen_stream.append, limits=limits, dead_letter=dead_stream)
    result = scan_spark(paths, rules, session=spark, on_match=seen_spark.append, limits=limits,
                        dead_letter=dead_spark, **spark_kwargs)
    assert [(a.id, a.rule_id, a.event_ids, a.count) for a in result.alerts] == \
        [(a.id, a.rule_id, a.event_ids, a.count) for a in stream.alerts]
    assert [(m.rule_id, m.event_id, m.source, m.line) for m in seen_spark] == \
        [(m.rule_id, m.event_id, m.source, m.line) for m in seen_stream]
    assert result.stats == stream.stats
    assert [str(e) for e in result.read_errors] == [str(e) for e in stream.read_errors]
    assert result.events_skipped == stream.events_skipped
    if dead_letter:
        assert dead_spark.getvalue() == dead_stream.getvalue()
    return stream, result


def test_bundled_pack_over_a_simulated_day(spark, tmp_path):
    paths = write_logs(tmp_path, ["all"], 800, 11, salesforce_csv=True)
    loaded = api.load_rules([RULES_DIR], context=LoadContext(allow_python=True))
    stream, _ = assert_same([str(p) for p in paths.values()], loaded, spark)
    assert len(stream.alerts) >= 3 and stream.stats.matches > 20


def test_malformed_lines_and_odd_json_are_reported_as_in_streaming(spark, tmp_path):
    okta = {"eventType": "user.session.start", "published": "2026-01-01T00:00:00Z", "uuid": "u1",
            "actor": {"alternateId": "a@x"}}
    lines = [orjson.dumps(okta), b"", b'{"eventType": "user.session.start", "published": NaN, "uuid": "u2"}',
             b'{"eventType": "x", "uuid": "u3",}', b"[1, 2]", b"not json", b'{"uuid": "\xff"}',
             b'{"eventType": "user.session.start", "published": "2026-01-01T00:00:01Z", "uuid": "u6", "a": "\\ud800"}',
             orjson.dumps({**okta, "uuid": "u5", "actor.alternateId": "dotted"}),
             orjson.dumps({"unknown": "shape"})]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    rule = Rule(id="start", title="start", format="sigma", logsource=LogSource(product="okta"),
                logic=Cmp("eventType", "eq", ("user.session.start",)))
    _, result = assert_same([str(path)], [rule], spark)
    assert result.stats.matches >= 2 and result.stats.unknown_events == 1


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(rules(4), events(30))
def test_generated_rules_and_events(spark, tmp_path_factory, rule_list, event_list):
    path = tmp_path_factory.mktemp("gen") / "okta.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in event_list) + b"\n")
    assert_same([str(path)], rule_list, spark)


def test_spark_conf_and_paths():
    assert parse_conf(["spark.executor.memory=4g", "a.b=x=y"]) == {"spark.executor.memory": "4g", "a.b": "x=y"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_conf(["novalue"])
    assert variant_path('$."client"."ip.addr"') == '$["client"]["ip.addr"]'


RULE_YML = """AnalysisType: rule
RuleID: Test.Spark.Python
DisplayName: Token grants by a service account
Enabled: true
Filename: spark_rule.py
LogTypes:
  - Okta.SystemLog
Severity: Medium
"""
RULE_PY = """def rule(event):
    return event.get("eventType") == "app.oauth2.token.grant" and event.deep_get("actor", "type") == "Service"


def title(event):
    return f"grant by {event.deep_get('actor', 'alternateId')}"
"""


def test_python_rules_run_in_the_executors(spark, tmp_path):
    """A Panther rule runs in mapInArrow: only the events it may match reach the driver, and the
    alerts are the streaming engine's."""
    from tokentrail.engine.spark import SparkEngine
    from tokentrail.sources.files import LogReader

    (tmp_path / "spark_rule.yml").write_text(RULE_YML)
    (tmp_path / "spark_rule.py").write_text(RULE_PY)
    loaded = api.load_rules([tmp_path / "spark_rule.yml"], context=LoadContext(allow_python=True))
    assert [r.id for r in loaded.rules] == ["Test.Spark.Python"], loaded.errors
    events = [{"eventType": "app.oauth2.token.grant" if i % 3 == 0 else "user.session.start", "uuid": f"e{i}",
               "published": f"2026-01-01T00:00:{i:02d}Z",
               "actor": {"type": "Service" if i % 2 == 0 else "User", "alternateId": f"a{i % 4}@x.io"}}
              for i in range(48)]
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    stream, _ = assert_same([str(path)], loaded, spark)
    # Events 0, 6, ..., 42 match; the title dedups them into one alert per actor (a0, a2).
    assert len(stream.alerts) == 2 and sum(a.count for a in stream.alerts) == 8
    engine = SparkEngine(loaded.rules, spark)
    engine.scan_paths([str(path)], LogReader())
    assert engine.to_driver == 8  # no duplicate filter: the executors keep the other 40


def test_cli_spark_engine_prints_the_streaming_alerts(spark, tmp_path):
    """``tokentrail scan --engine spark`` (the session of this test run is reused) prints what
    ``--engine stream`` prints, summary and errors included."""
    from batch.test_cli_engine import scan

    write_logs(tmp_path / "day", ["all"], 400, 3, sources=("okta",))
    (tmp_path / "day" / "broken.jsonl").write_text('{"eventType": "user.session.start", "uuid": "z"\n',
                                                   encoding="utf-8")
    stream = scan(tmp_path / "day", "--format", "jsonl", "--engine", "stream")
    on_spark = scan(tmp_path / "day", "--format", "jsonl", "--engine", "spark", "--spark-conf",
                    "spark.sql.shuffle.partitions=2")
    assert on_spark[:2] == stream[:2] and on_spark[2] == stream[2] + "engine: spark (master local[2])\n"
    assert on_spark[0] == 1 and "broken.jsonl:1" in on_spark[2]
    assert scan(tmp_path / "day", "--engine", "spark", "--spark-conf", "novalue")[0] == 2


def test_esql_aggregate_rules_give_the_streaming_alerts_and_their_values(spark, tmp_path):
    """ES|QL STATS conditions are evaluated by alerting on the digests Spark's matches give."""
    paths = write_logs(tmp_path, ["okta-refresh-token-reuse", "okta-token-grant-anonymizer",
                                  "auth0-refresh-failure-burst"], 1500, 11)
    loaded = api.load_rules([RULES_DIR / "elastic"])
    rules = [r for r in loaded.rules if r.grouping.query is not None]
    assert len(rules) >= 3
    files = [str(paths["okta"]), str(paths["auth0"])]
    stream, result = assert_same(files, rules, spark)
    assert len(stream.alerts) >= 3
    assert [a.fields for a in result.alerts] == [a.fields for a in stream.alerts]
