"""Text from events, rule titles and file names cannot drive the analyst's terminal: control
characters, ANSI/OSC escapes, bidi overrides, NUL and lone surrogates are escaped in tables and
stderr; outputs and `rules list` survive a lone surrogate in a Kibana rule name."""

from __future__ import annotations

import io
import json

import pytest
from cli_support import OKTA_TOKEN_RULE, okta_event, parse_jsonl
from rich.console import Console

from tokentrail.alerting.models import Alert
from tokentrail.sinks.safe_text import safe_text
from tokentrail.sinks.table import alerts_table
from tokentrail.sinks.writers import write_alerts_jsonl, write_json
from tokentrail.surrogates import json_safe, without_surrogates

OSC_TITLE = "\x1b]0;PWNED\x07"  # sets the terminal's title
CSI_CLEAR = "\x1b[2J"  # clears the screen
BIDI = "\u202e"  # right-to-left override
HOSTILE = f"eve{OSC_TITLE}{CSI_CLEAR}{BIDI}moc.evil\x00@x\r\n\t\x9b\u2066"

# Bytes that drive a terminal, and code points that reorder or hide text.
FORBIDDEN = ("\x1b", "\x07", "\x00", "\r", "\x9b", "\u202e", "\u2066", "\ud800")


def assert_inert(text: str) -> None:
    for ch in FORBIDDEN:
        assert ch not in text, repr(ch)


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain text, é 漢 😀", "plain text, é 漢 😀"),
    (OSC_TITLE, "\\x1b]0;PWNED\\x07"),
    (CSI_CLEAR, "\\x1b[2J"),
    ("a\u202eb\u2067c\u200bd\ufeffe", "a\\u202eb\\u2067c\\u200bd\\ufeffe"),
    ("nul\x00 del\x7f c1\x9b", "nul\\x00 del\\x7f c1\\x9b"),
    ("line\nbreak\r\ttab \u2028", "line\\nbreak\\r\\ttab \\u2028"),
    ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
    ("no-break\u00a0space", "no-break\u00a0space"),
])
def test_safe_text_escapes_what_drives_a_terminal(raw, shown):
    assert safe_text(raw) == shown


def test_safe_text_can_keep_newlines_of_multi_line_text():
    assert safe_text("one\ntwo\x1b", keep_newlines=True) == "one\ntwo\\x1b"


def test_json_safe_replaces_lone_surrogates_everywhere():
    doc = {"t\ud800": ["\udfff", 1, {"k": "ok"}], "n": None}
    assert json_safe(doc) == {"t\ufffd": ["\ufffd", 1, {"k": "ok"}], "n": None}
    assert without_surrogates("fine 😀") == "fine 😀"


def _alert(title: str, fields: dict) -> Alert:
    return Alert(id="a" * 24, rule_id="r", title=title, severity="high", group_key=("k",), window_start=None,
                 count=1, event_ids=("e1",), first_time=1714557600.0, last_time=1714557600.0, fields=fields)


def test_alert_table_cells_are_escaped():
    table = alerts_table([_alert(f"title{OSC_TITLE}{BIDI}\ud800", {"actor.alternateId": HOSTILE,
                                                             "client.ipAddress": f"1.2.3.4{CSI_CLEAR}"})])
    out = io.StringIO()
    Console(file=out, width=300, force_terminal=False).print(table)
    text = out.getvalue()
    assert_inert(text)
    assert "title\\x1b]0;PWNED\\x07\\u202e" in text and "1.2.3.4\\x1b[2J" in text


def test_writers_survive_a_lone_surrogate():
    alert = _alert("bad \ud800 title", {"who": "x\udc00"})
    out = io.BytesIO()
    assert write_alerts_jsonl([alert], out) == 1
    assert json.loads(out.getvalue())["title"] == "bad \ufffd title"
    out = io.BytesIO()
    write_json({"alerts": [alert.to_dict()]}, out)
    assert json.loads(out.getvalue())["alerts"][0]["fields"] == {"who": "x\ufffd"}


def test_scan_table_and_stderr_escape_event_values_and_file_names(cli):
    rules = cli.write("rules/okta.yml", OKTA_TOKEN_RULE)
    event = okta_event(2, "system.api_token.create", user=HOSTILE)
    event["client"]["ipAddress"] = f"198.51.100.7{OSC_TITLE}"
    name = f"okta{OSC_TITLE}{BIDI}.jsonl"
    logs = cli.jsonl(name, [okta_event(1), event], extra_lines={3: "{not json"})
    result = cli("scan", logs, "-r", rules)
    assert result.exit_code == 1  # the malformed line
    assert "1 alert(s)" in result.stdout
    assert_inert(result.stdout)
    assert_inert(result.stderr)
    assert "eve\\x1b]0;PWNED\\x07" in result.stdout
    assert "okta\\x1b]0;PWNED\\x07\\u202e.jsonl:3: malformed JSON" in result.stderr
    # The JSON outputs keep the values as they are (JSON escapes them).
    jsonl = cli("scan", logs, "-r", rules, "--format", "jsonl")
    assert parse_jsonl(jsonl.stdout)[0]["fields"]["actor.alternateId"] == HOSTILE


def test_rule_titles_are_escaped_in_rules_list_show_and_test(cli):
    title = f"Okta token {OSC_TITLE}{BIDI}created"
    rule = cli.write("rules/okta.yml", OKTA_TOKEN_RULE.replace("Okta API token created", json.dumps(title)))
    for args in (("rules", "list", "-r", rule), ("rules", "show", "5b0e7c1a", "-r", rule), ("test", "-r", rule)):
        result = cli(*args)
        assert_inert(result.stdout)
        assert_inert(result.stderr)
    assert "Okta token \\x1b]0;PWNED\\x07\\u202ecreated" in cli("rules", "list", "-r", rule).stdout


KIBANA_RULE = {
    "rule_id": "0f0f0f0f-0000-4000-8000-000000000001", "name": "Token \\ud800 theft", "type": "query",
    "language": "kuery", "query": "event.action:system.api_token.create", "index": ["logs-okta*"],
    "risk_score": 47, "severity": "high", "description": "A Kibana export with a lone surrogate.",
}


def test_a_lone_surrogate_in_a_kibana_rule_name_breaks_no_output(cli):
    # json.dumps would escape the backslash; the file must hold the JSON escape itself.
    text = json.dumps(KIBANA_RULE).replace("\\\\ud800", "\\ud800")
    assert "\\ud800" in text
    rule = cli.write("export.ndjson", text + "\n")
    table = cli("rules", "list", "-r", rule)
    assert table.exit_code == 0, table.stderr
    assert "Token \ufffd theft" in table.stdout
    listed = cli("rules", "list", "-r", rule, "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    assert [r["title"] for r in json.loads(listed.stdout)] == ["Token \ufffd theft"]
    listed = cli("rules", "list", "-r", rule, "--format", "jsonl")
    assert [r["title"] for r in parse_jsonl(listed.stdout)] == ["Token \ufffd theft"]
    ecs = {"@timestamp": "2024-05-01T10:00:00Z", "event": {"action": "system.api_token.create",
                                                           "dataset": "okta.system", "id": "e-1"},
           "data_stream": {"dataset": "okta.system"}}
    logs = cli.jsonl("ecs.jsonl", [ecs])
    for fmt in ("json", "jsonl", "table"):
        scanned = cli("scan", logs, "-r", rule, "--format", fmt)
        assert scanned.exit_code == 0, scanned.stderr
        assert "Token \ufffd theft" in scanned.stdout, fmt
