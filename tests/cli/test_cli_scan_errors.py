"""`tokentrail scan` when input or rules are bad: malformed lines, --strict, --dead-letter, broken
rule files, and Sigma `expand` placeholders given (or not) with --sigma-config."""

from __future__ import annotations

import json

from cli_support import OKTA_TOKEN_RULE, OKTA_TOKEN_RULE_ID, okta_event, parse_jsonl

EVENTS = [okta_event(1, "system.api_token.create"), okta_event(2), okta_event(3, "system.api_token.create")]
# Line 2 is not JSON, line 4 is JSON but not an object, line 5 is blank (not an error).
BAD_LINES = {2: "{not json", 4: "[1, 2]", 5: ""}


def bad_log(cli):
    return cli.jsonl("okta.jsonl", EVENTS, extra_lines=BAD_LINES)


def test_malformed_lines_are_reported_and_the_scan_goes_on(cli):
    path = bad_log(cli)
    result = cli("scan", path, "-r", cli.rules(), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [a["event_ids"] for a in doc["alerts"]] == [["okta-1"], ["okta-3"]]
    assert doc["summary"]["events_read"] == 3 and doc["summary"]["events_skipped"] == 2
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped: ")]
    assert [line.split(": ", 2)[1] for line in skipped] == [f"{path}:2", f"{path}:4"]
    assert "malformed JSON" in skipped[0] and "not a JSON object" in skipped[1]
    assert "3 events read, 2 skipped, 2 matched" in result.stderr


def test_many_malformed_lines_are_counted_beyond_the_ones_listed(cli):
    path = cli.write("noise.jsonl", "oops\n" * 1005 + json.dumps(okta_event(7, "system.api_token.create")) + "\n")
    result = cli("scan", path, "-r", cli.rules(), "--format", "jsonl")
    assert result.exit_code == 1
    assert [a["event_ids"] for a in parse_jsonl(result.stdout)] == [["okta-7"]]
    assert result.stderr.count("skipped: ") == 1000
    assert "... and 5 more skipped lines" in result.stderr
    assert "1 events read, 1005 skipped" in result.stderr


def test_strict_stops_at_the_first_malformed_line(cli):
    path = bad_log(cli)
    result = cli("scan", path, "-r", cli.rules(), "--format", "jsonl", "--strict")
    assert result.exit_code == 1
    # JSON lines leave as alerts become final: line 1's alert was out before line 2 stopped the scan.
    assert [a["event_ids"] for a in parse_jsonl(result.stdout)] == [["okta-1"]]
    assert f"{path}:2: malformed JSON" in result.stderr
    assert f"{path}:4" not in result.stderr


def test_strict_on_a_clean_file_is_a_normal_scan(cli):
    path = cli.jsonl("okta.jsonl", EVENTS)
    result = cli("scan", path, "-r", cli.rules(), "--format", "jsonl", "--strict")
    assert result.exit_code == 0, result.stderr
    assert len(parse_jsonl(result.stdout)) == 2


def test_dead_letter_keeps_the_malformed_lines(cli, tmp_path):
    dead = tmp_path / "dead.jsonl"
    result = cli("scan", bad_log(cli), "-r", cli.rules(), "--format", "jsonl", "--dead-letter", dead)
    assert result.exit_code == 1
    assert dead.read_text() == "{not json\n[1, 2]\n"
    assert len(parse_jsonl(result.stdout)) == 2


def test_dead_letter_of_a_csv_keeps_the_overlong_row(cli, tmp_path):
    path = cli.write("sf.csv", 'EVENT_TYPE,REQUEST_ID\nLogin,req-1\nLogin,req-2,extra\n')
    dead = tmp_path / "dead.csv"
    result = cli("scan", path, "-r", cli.rules(), "--format", "json", "--dead-letter", dead)
    assert result.exit_code == 1
    assert f"{path}:3: more values than header columns" in result.stderr
    assert json.loads(result.stdout)["summary"]["events_read"] == 1
    assert "req-2" in dead.read_text()


def test_missing_log_file_is_reported(cli, tmp_path):
    good = cli.jsonl("okta.jsonl", EVENTS)
    result = cli("scan", tmp_path / "nope.jsonl", good, "-r", cli.rules(), "--format", "jsonl")
    assert result.exit_code == 1
    assert f"{tmp_path / 'nope.jsonl'}: cannot open" in result.stderr
    assert len(parse_jsonl(result.stdout)) == 2


def test_broken_rule_file_is_named_and_the_other_rules_still_run(cli):
    rules = cli.rules()
    broken = cli.write("rules/broken.yml", """\
        title: Broken
        logsource: {product: okta}
        detection:
          selection: {eventType: [unclosed
          condition: selection
        """)
    bad_condition = cli.write("rules/bad_condition.yml", """\
        title: Bad condition
        id: 5b0e7c1a-0000-4000-8000-0000000000c1
        logsource: {product: okta}
        detection:
          selection: {eventType: x}
          condition: selection and missing
        """)
    result = cli("scan", cli.jsonl("okta.jsonl", EVENTS), "-r", rules, "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert {a["rule_id"] for a in doc["alerts"]} == {OKTA_TOKEN_RULE_ID}
    assert len(doc["alerts"]) == 2
    assert doc["summary"]["rules_loaded"] == 3 and doc["summary"]["rule_load_errors"] == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2
    assert any(line.startswith(f"error: {broken}:") for line in errors)
    assert any(line.startswith(f"error: {bad_condition}:6:") and "missing" in line for line in errors)


def test_missing_rule_path_is_an_error(cli, tmp_path):
    rule = cli.write("okta_token.yml", OKTA_TOKEN_RULE)
    result = cli("scan", cli.jsonl("okta.jsonl", EVENTS), "-r", rule, "-r", tmp_path / "gone.yml",
                 "--format", "jsonl")
    assert result.exit_code == 1
    assert f"{tmp_path / 'gone.yml'}: no such file or directory" in result.stderr
    assert len(parse_jsonl(result.stdout)) == 2


EXPAND_RULE = """\
    title: Token created by an admin
    id: 5b0e7c1a-0000-4000-8000-0000000000e1
    level: high
    logsource:
      product: okta
    detection:
      selection:
        eventType: system.api_token.create
        actor.alternateId|expand: '%admins%'
      condition: selection
    """


def expand_events():
    return [okta_event(1, "system.api_token.create", user="root@example.com"),
            okta_event(2, "system.api_token.create", user="alice@example.com"),
            okta_event(3, "system.api_token.create", user="ops@example.com"),
            okta_event(4, "user.session.start", user="root@example.com")]


def test_sigma_config_fills_expand_placeholders(cli):
    rule = cli.write("expand.yml", EXPAND_RULE)
    config = cli.write("sigma.yml", """\
        placeholders:
          admins: [root@example.com, ops@example.com]
        """)
    result = cli("scan", cli.jsonl("okta.jsonl", expand_events()), "-r", rule, "--sigma-config", config,
                 "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert [a["event_ids"] for a in parse_jsonl(result.stdout)] == [["okta-1"], ["okta-3"]]


def test_sigma_config_single_value_placeholder(cli):
    rule = cli.write("expand.yml", EXPAND_RULE)
    config = cli.write("sigma.yml", "admins: alice@example.com\n")
    result = cli("scan", cli.jsonl("okta.jsonl", expand_events()), "-r", rule, "--sigma-config", config,
                 "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert [a["event_ids"] for a in parse_jsonl(result.stdout)] == [["okta-2"]]


def test_expand_without_config_is_a_located_rule_error(cli):
    rule = cli.write("expand.yml", EXPAND_RULE)
    result = cli("scan", cli.jsonl("okta.jsonl", expand_events()), "-r", rule, "--format", "jsonl")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"error: {rule}:9:" in result.stderr and "%admins%" in result.stderr


def test_unreadable_sigma_config_exits_2(cli, tmp_path):
    rule = cli.write("expand.yml", EXPAND_RULE)
    result = cli("scan", cli.jsonl("okta.jsonl", expand_events()), "-r", rule,
                 "--sigma-config", tmp_path / "absent.yml")
    assert result.exit_code == 2
    assert f"error: --sigma-config {tmp_path / 'absent.yml'}: cannot read: No such file" in result.stderr


def test_bracketed_file_names_are_printed_as_they_are(cli):
    # File names and messages are data, not Rich markup.
    path = cli.jsonl("okta[prod].jsonl", EVENTS, extra_lines={2: "{not json"})
    result = cli("scan", path, "-r", cli.rules(), "--format", "jsonl")
    assert result.exit_code == 1
    assert f"skipped: {path}:2: malformed JSON" in result.stderr


def test_unwritable_outputs_are_one_line_errors(cli, tmp_path):
    logs = cli.jsonl("okta.jsonl", EVENTS)
    rules = cli.rules()
    nowhere = tmp_path / "missing-dir"
    for option in ("--output", "--matches", "--dead-letter"):
        result = cli("scan", logs, "-r", rules, option, nowhere / "x.out")
        assert result.exit_code == 2, option
        assert f"error: {option} {nowhere / 'x.out'}: cannot write" in result.stderr, option
    result = cli("scan", logs, "-r", rules, "--state", nowhere / "state.db")
    assert result.exit_code == 2
    assert f"error: --state {nowhere / 'state.db'}: cannot open" in result.stderr


def test_sigma_config_of_the_wrong_shape(cli):
    rule = cli.write("expand.yml", EXPAND_RULE)
    config = cli.write("sigma.yml", "placeholders: 5\n")
    result = cli("scan", cli.jsonl("okta.jsonl", expand_events()), "-r", rule, "--sigma-config", config)
    assert result.exit_code == 2
    assert f"error: --sigma-config {config}: 'placeholders' must map" in result.stderr


# An Elastic new_terms rule: the first API token each user creates.
NEW_TERMS_RULE = """\
    [metadata]
    creation_date = "2025/01/20"
    maturity = "production"
    updated_date = "2025/01/20"

    [rule]
    author = ["TokenTrail tests"]
    description = "First API token created by a user."
    index = ["logs-okta*"]
    language = "kuery"
    license = "Apache-2.0"
    name = "First API token of a user"
    risk_score = 47
    rule_id = "5b0e7c1a-0000-4000-8000-0000000000e2"
    severity = "medium"
    type = "new_terms"
    query = "event.dataset:okta.system and event.action:system.api_token.create"

    [rule.new_terms]
    field = "new_terms_fields"
    value = ["okta.actor.alternate_id"]

    [[rule.new_terms.history_window_start]]
    field = "history_window_start"
    value = "now-60s"
    """


def test_state_file_keeps_new_terms_history_between_scans(cli, tmp_path):
    rule = cli.write("new_terms.toml", NEW_TERMS_RULE)
    state = tmp_path / "state.db"
    # The rule's history window is 60 s (see NEW_TERMS_RULE): the first minute a rule sees is
    # learning, as Elastic would have that minute in its index already.
    first = cli.jsonl("day1.jsonl", [okta_event(1, "system.api_token.create", user="alice@example.com"),
                                     okta_event(50, "system.api_token.create", user="alice@example.com")])
    second = cli.jsonl("day2.jsonl", [okta_event(70, "system.api_token.create", user="alice@example.com"),
                                      okta_event(75, "system.api_token.create", user="bob@example.com")])
    run1 = cli("scan", first, "-r", rule, "--state", state, "--format", "jsonl")
    assert run1.exit_code == 0, run1.stderr
    assert parse_jsonl(run1.stdout) == []
    run2 = cli("scan", second, "-r", rule, "--state", state, "--format", "jsonl")
    assert [a["event_ids"] for a in parse_jsonl(run2.stdout)] == [["okta-75"]]
    # Without the state file the second day is a learning period of its own.
    run3 = cli("scan", second, "-r", rule, "--format", "jsonl")
    assert parse_jsonl(run3.stdout) == []


def test_parquet_under_the_streaming_engine_is_one_error_not_a_line_per_row(cli, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "okta.parquet"
    pq.write_table(pa.Table.from_pylist(EVENTS), parquet)
    result = cli("scan", parquet, "-r", cli.rules(), "--engine", "stream", "--format", "jsonl")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "use --engine duckdb or spark" in result.stderr
    picked = cli("scan", parquet, "-r", cli.rules(), "--format", "jsonl")  # no --engine: duckdb
    assert picked.exit_code == 0 and len(parse_jsonl(picked.stdout)) == 2
