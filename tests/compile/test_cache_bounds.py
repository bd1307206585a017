"""Caches keyed by event values hold short keys only (issue 14, item 4 last sentence): distinct
huge values must not pile up in the per-value function table, the regex memo or the IP cache."""

from __future__ import annotations

from tokentrail.compile import python as compiled_python
from tokentrail.compile.python import parse_ip
from tokentrail.engine.plan import LogTypeIndex
from tokentrail.engine.stream import StreamingEngine
from tokentrail.rules.ir import All, Cmp
from tokentrail.rules.model import LogSource, Rule


def okta(i: int, event_type: str, uri: str = "/") -> dict:
    return {"uuid": f"u{i}", "published": "2024-01-01T00:00:00Z", "eventType": event_type,
            "actor": {"id": "a", "type": "User"}, "debugContext": {"debugData": {"requestUri": uri}}}


def rule(rid: str, logic) -> Rule:
    return Rule(id=rid, title=rid, format="sigma", logic=logic, logsource=LogSource(product="okta"))


def test_long_anchor_values_take_the_general_path_and_still_match():
    rules = [rule("exact", Cmp("eventType", "eq", ("user.session.start",))),
             rule("needle", Cmp("eventType", "contains", ("needle",))),
             rule("uri", All((Cmp("eventType", "startswith", ("app.",)),
                              Cmp("debugContext.debugData.requestUri", "regex", ("^/oauth2/v1/token",)))))]
    engine = StreamingEngine(rules)
    index = engine.plan.indexes["okta"]
    fired = []
    for i in range(40):
        long_value = f"app.{i}." + "x" * 20_000 + ("needle" if i % 2 else "")
        fired += [a.rule_id for a in engine.process(okta(i, long_value, "/oauth2/v1/token" + "y" * 20_000))]
    fired += [a.rule_id for a in engine.process(okta(99, "user.session.start"))]
    assert fired.count("needle") == 20 and fired.count("uri") == 40 and fired.count("exact") == 1
    assert index.by_value and all(len(key) <= LogTypeIndex.MAX_KEY for key in index.by_value)


def test_ip_cache_keeps_no_long_values():
    long_text = "1" * 10_000
    assert parse_ip(long_text) is None
    assert long_text not in compiled_python._IP_CACHE
    assert parse_ip("10.0.0.1") == (4, 167772161) and "10.0.0.1" in compiled_python._IP_CACHE
