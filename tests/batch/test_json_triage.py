"""The DuckDB engine's JSON-lines triage: which raw lines it settles (counted, never parsed into events),
and that scans through it still give exactly the streaming engine's alerts, counts and errors."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_batch_engine import assert_same

from tokentrail.engine.batch import BatchEngine
from tokentrail.engine.batch_json import JsonLinesTriage
from tokentrail.rules.ir import All, Cmp
from tokentrail.rules.model import LogSource, PythonLogic, Rule

OKTA = LogSource(product="okta")
RULES = [
    Rule(id="start", title="start", format="sigma", logsource=OKTA, logic=Cmp("eventType", "eq", ("user.session.start",))),
    Rule(id="evil", title="evil", format="sigma", logsource=OKTA,
         logic=All((Cmp("eventType", "eq", ("app.oauth2.token.grant",)), Cmp("actor.alternateId", "contains", ("evil",))))),
]


def okta(event_type: object = "user.account.lock", **extra: object) -> dict:
    return {"eventType": event_type, "uuid": "u", "published": "2026-01-01T00:00:00Z", "actor": {"alternateId": "a@x"},
            **extra}


def line(event: dict) -> bytes:
    return orjson.dumps(event)


# (raw line, settled by the triage?) — every unsettled line goes whole to the streaming engine.
CASES = [
    (line(okta()), True),  # an event type no rule names
    (line(okta("user.session.start")), False),  # a rule's anchor value
    (line(okta("USER.SESSION.START")), False),  # anchors compare lower-cased
    (line(okta("app.oauth2.token.grant")), True),  # the rule left needs "evil", which the line lacks
    (line(okta("app.oauth2.token.grant", actor={"alternateId": "EVIL@x"})), False),  # holds it (any case)
    (line(okta("app.oauth2.token.grant", note="é")), False),  # not ASCII: no text test
    (line(okta(5)), False),  # not a string: the general path decides
    (line(okta(None)), False),
    (line(okta(["user.session.start"])), False),  # a list of values
    (b'{"eventType": "user.session.start", "uuid": "u", "published": "p", "eventType": "x"}', False),  # duplicate key
    (b'{"eventType": "x", "uuid": "u", "published": "p", "eventType": "user.session.start"}', False),
    (b'{"event\\u0054ype": "user.session.start", "uuid": "u", "published": "p"}', False),  # an escaped key
    (b'{"eventType": "x", "uuid": "u", "published": "p", "n": NaN}', False),  # not JSON to orjson (nor to simdjson)
    (b'{"eventType": "x", "uuid": "u", "published": "p", "n": -inf}', False),
    (b'{"eventType": "x", "uuid": "u", "published": "p", "n": [1,]}', False),
    (b'{"eventType": "x", "uuid": "u", "published": "p", "n": 1e999}', False),
    (b'{"eventType": "x", "uuid": "u", "published": "p", "n": 123456789012345678901234567890}', False),
    (b'{"eventType": "x", "uuid": "u", "published": "p", "n": ' + b"[" * 1025 + b"]" * 1025 + b"}", False),
    (b'\xef\xbb\xbf{"eventType": "x", "uuid": "u", "published": "p"}', False),  # a byte-order mark mid-file
    (b'{"eventType": "x", "uuid": "\xff", "published": "p"}', False),  # not UTF-8
    (b'{"eventtype": "x", "uuid": "u", "published": "p"}', False),  # lower-case key: no log type by the key sets
    (b'{"EVENT_TYPE": "Login"}', True),  # Salesforce: no rule reads that log type
    (b'{"eventType": "x", "uuid": "u", "published": "p"', False),  # malformed
    (b"[1, 2]", False),
    (b"   ", False),
]


def test_which_lines_sql_settles():
    triage = JsonLinesTriage(BatchEngine(RULES))
    settled, _ = triage.settled([raw for raw, _ in CASES])
    assert [bool(s) for s in settled] == [want for _, want in CASES]


def test_a_duplicate_anywhere_in_the_batch_is_found_line_by_line():
    # The batch-wide count of "eventType" exceeds its lines: each line is searched, and only the
    # lines holding that text twice (a duplicate key, or a value spelling it) lose their verdict.
    lines = [line(okta()), b'{"eventType": "x", "uuid": "u", "published": "p", "eventType": "user.session.start"}',
             line(okta(note="eventType")), line(okta())]
    settled, _ = JsonLinesTriage(BatchEngine(RULES)).settled(lines)
    assert settled.tolist() == [True, False, False, True]


class _Never:
    def matches(self, event):
        return False

    def describe(self, event):
        return {}


def test_python_rules_keep_their_log_type_out_of_sql():
    python = Rule(id="py", title="py", format="panther", logsource=OKTA, log_types=("okta",),
                  logic=PythonLogic("never.py", load=_Never))
    triage = JsonLinesTriage(BatchEngine([*RULES, python]))
    settled, _ = triage.settled([line(okta()), b'{"EVENT_TYPE": "Login"}'])
    assert settled.tolist() == [False, True]


def test_scans_through_the_triage_match_streaming(tmp_path):
    path = tmp_path / "mixed.jsonl"
    # Ids of their own: the triage keys no event it settles, so it drops no duplicate of one (see scan_batch).
    path.write_bytes(b"\n".join(raw.replace(b'"u"', b'"u%d"' % i, 1) for i, (raw, _) in enumerate(CASES)) + b"\n")
    stream, batch = assert_same([str(path)], RULES)
    assert batch.stats.matches == stream.stats.matches >= 5
    assert len(batch.read_errors) >= 8  # NaN, infinities, trailing comma, big numbers, nesting, BOM, bad UTF-8...


KEYS = ["eventType", "eventtype", "event\\u0054ype"]
TYPES = ['"user.session.start"', '"app.oauth2.token.grant"', '"user.account.lock"', '"USER.SESSION.START"', "5",
         '"5"', "null", '["user.session.start"]', "NaN"]
EXTRAS = ['"actor": {"alternateId": "evil"}', '"actor": {"alternateId": "a\\u0065vil"}', '"actor": null',
          '"actor": [{"alternateId": "evil"}]', '"actor.alternateId": "evil"', '"n": [1, [2, {"m": []}]]',
          '"n": "é"', '"n": 1e400', '"n": [1,]']


@st.composite
def raw_lines(draw):
    out = []
    for i in range(draw(st.integers(1, 12))):
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=0, max_size=2))
        parts = [f'"{k}": {draw(st.sampled_from(TYPES))}' for k in keys]
        parts += [f'"uuid": "e{i}"', f'"published": "2026-01-01T00:00:{i:02d}Z"']
        parts += draw(st.lists(st.sampled_from(EXTRAS), max_size=2))
        order = draw(st.permutations(parts))
        out.append(("{" + ", ".join(order) + "}").encode())
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(raw_lines())
@example([b'{"eventType": "app.oauth2.token.grant", "uuid": "e0", "published": "p", "actor": {"alternateId": "a\\u0065vil"}}'])
@example([b'{"eventType": "x", "uuid": "e0", "published": "p", "eventType": "user.session.start"}'])
@example([b'{"eventType": "user.account.lock", "uuid": "e0", "published": "p", "n": NaN}'])
def test_generated_raw_lines_match_streaming(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("raw") / "okta.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert_same([str(path)], RULES)
