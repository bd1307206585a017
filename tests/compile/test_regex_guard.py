"""Regexes cannot hang a scan or be evaded (issue 14, item 6): patterns RE2 cannot run go to a
fallback whose every search has a time limit; an overrun is a counted rule error, the scan and
the other rules go on; the whole value is searched; RE2 writes nothing on stderr."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from tokentrail.compile.python import compile_expr
from tokentrail.compile.regex import FALLBACK_TIME_LIMIT, MEMO_MAX_KEY, RegexTimeLimitExceeded, compile_search
from tokentrail.engine.stream import StreamingEngine
from tokentrail.formats.elastic.eql import eql_to_logic
from tokentrail.rules.ir import Cmp
from tokentrail.rules.loader import load_rules
from tokentrail.rules.model import Rule

RUNAWAY = ["(?=a)(a|a)+$", "(?=a)(a{1,})+$", "(?=a)((a+))+$"]
HOSTILE = "a" * 35 + "b"


def okta_event(event_type: str, uuid: str = "u1") -> dict:
    return {"uuid": uuid, "published": "2024-01-01T00:00:00Z", "eventType": event_type,
            "actor": {"id": "a", "type": "User"}}


@pytest.mark.parametrize("pattern", RUNAWAY)
def test_runaway_patterns_end_within_the_limit(pattern):
    search = compile_search(pattern)
    started = time.perf_counter()
    try:
        assert search(HOSTILE) is False
    except RegexTimeLimitExceeded as exc:
        assert pattern in str(exc)
    assert time.perf_counter() - started < FALLBACK_TIME_LIMIT + 2
    assert search("a" * 35) is True  # the patterns still match what they describe


def test_the_whole_value_is_searched():
    # A look-ahead (fallback engine) whose marker sits past where the old fallback stopped reading.
    search = compile_search("(?=.*MARKER)token=")
    assert search("token=" + "x" * 5000 + "MARKER")
    assert not search("token=" + "x" * 5000)


def sigma_pack(tmp_path: Path, pattern: str) -> list[Rule]:
    path = tmp_path / "rules.yml"
    path.write_text(textwrap.dedent(f"""\
        title: runaway
        id: runaway
        logsource: {{product: okta}}
        detection:
            sel:
                eventType|re: '{pattern}'
            condition: sel
        ---
        title: same bucket
        id: neighbour
        logsource: {{product: okta}}
        detection:
            sel:
                eventType|startswith: a
            condition: sel
        """))
    loaded = load_rules([path])
    assert not loaded.errors
    return list(loaded.rules)


@pytest.mark.parametrize("pattern", RUNAWAY)
def test_sigma_re_overrun_is_a_rule_error_and_the_scan_goes_on(tmp_path, pattern):
    engine = StreamingEngine(sigma_pack(tmp_path, pattern))
    started = time.perf_counter()
    alerts = engine.process(okta_event(HOSTILE), "okta.jsonl", 7)
    alerts += engine.process(okta_event("a" * 35, "u2"), "okta.jsonl", 8)
    alerts += engine.finish()
    assert time.perf_counter() - started < 3 * FALLBACK_TIME_LIMIT + 2
    fired = sorted((a.rule_id, a.event_ids) for a in alerts)
    assert ("neighbour", ("u1",)) in fired and ("neighbour", ("u2",)) in fired
    assert ("runaway", ("u2",)) in fired  # a value it can decide in time still matches
    for error in engine.rule_errors:  # the first pattern overruns; the others are fast in `regex`
        assert (error.rule_id, error.source, error.line) == ("runaway", "okta.jsonl", 7)
        assert "took longer than" in error.summary


def test_eql_regex_overrun_is_reported():
    logic = eql_to_logic('any where event.action regex "(?=a)(a|a)+"')
    # Rules tied to no product see events of no known log type, such as this one.
    rule = Rule(id="eql-runaway", title="t", format="elastic", logic=logic)
    other = Rule(id="eql-other", title="o", format="elastic",
                 logic=eql_to_logic('any where event.action like "a*"'))
    engine = StreamingEngine([rule, other])
    event = {"event": {"action": HOSTILE}}
    alerts = engine.process(event, "ecs.jsonl", 3) + engine.finish()
    assert [a.rule_id for a in alerts] == ["eql-other"]
    assert [(e.rule_id, e.line) for e in engine.rule_errors] == [("eql-runaway", 3)]


def test_general_predicate_raises_the_overrun():
    test = compile_expr(Cmp("f", "regex", ("(?=a)(a|a)+$",), cased=True))
    with pytest.raises(RegexTimeLimitExceeded):
        test({"f": "a" * 40 + "b"})


def test_re2_parse_errors_are_not_logged(capfd):
    search = compile_search("(?=q)quiet-lookahead-check")  # needs the fallback engine
    assert search("quiet-lookahead-check")
    assert "invalid perl operator" not in capfd.readouterr().err


def test_memo_keeps_only_short_values():
    search = compile_search("memo-bound-[0-9]+")
    for i in range(50):
        assert search("memo-bound-1" + "x" * (MEMO_MAX_KEY + i))
    assert search("memo-bound-2")
    assert all(len(key) <= MEMO_MAX_KEY for key in search.memo)
    assert "memo-bound-2" in search.memo
