"""`tokentrail scan --no-prefilter`, and the one line a scan prints when a rule defeats the fast path."""

from __future__ import annotations

from cli_support import okta_event, parse_jsonl

REGEX_RULE = """
    title: odd user name
    id: 0c3a8a59-31a4-4f52-8d3e-5e9bb4a1c201
    logsource: {product: okta}
    detection:
        sel: {actor.alternateId|re: '^bob'}
        condition: sel
    level: low
"""

EVENTS = [okta_event(1), okta_event(2, "system.api_token.create"), okta_event(3, user="bob@example.com"),
          okta_event(2, "system.api_token.create")]


def test_the_switch_gives_the_same_alerts_and_counts(cli):
    logs = cli.jsonl("okta.jsonl", EVENTS, extra_lines={3: "{broken"})
    fast = cli("scan", logs, "-r", cli.rules(), "--format", "jsonl")
    plain = cli("scan", logs, "-r", cli.rules(), "--format", "jsonl", "--no-prefilter")
    assert fast.exit_code == plain.exit_code == 1  # the broken line
    assert parse_jsonl(fast.stdout) == parse_jsonl(plain.stdout) != []
    assert fast.stderr == plain.stderr
    assert "okta.jsonl:3" in fast.stderr and "prefilter off" not in fast.stderr


def test_a_rule_without_a_required_literal_is_named_once(cli):
    logs = cli.jsonl("okta.jsonl", EVENTS)
    rules = cli.rules()
    cli.write("rules/odd_user.yml", REGEX_RULE)
    result = cli("scan", logs, "-r", rules, "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    line = "prefilter off: rule 0c3a8a59-31a4-4f52-8d3e-5e9bb4a1c201 has no required literal"
    assert result.stderr.count(line) == 1
    assert "0c3a8a59-31a4-4f52-8d3e-5e9bb4a1c201" in {a["rule_id"] for a in parse_jsonl(result.stdout)}
    switched = cli("scan", logs, "-r", rules, "--format", "jsonl", "--no-prefilter")
    assert "prefilter off" not in switched.stderr
    assert parse_jsonl(switched.stdout) == parse_jsonl(result.stdout)
