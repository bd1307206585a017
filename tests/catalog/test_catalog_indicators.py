"""Indicators with corpus counts: fields compared in one schema across formats, values with each
rule's own case semantics, and the most shared indicators of a corpus."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokentrail import load_rules
from tokentrail.catalog.indicators import indicator_corpus
from tokentrail.cli import app

WIDE = {"COLUMNS": "300", "NO_COLOR": "1", "TERM": "dumb"}
ELASTIC_ID = "00000000-0000-4000-8000-0000000000e1"


def _sigma(rule_id: str, product: str, detection: str) -> str:
    return textwrap.dedent(f"""\
        title: Rule {rule_id[-2:]}
        id: {rule_id}
        level: low
        logsource: {{product: {product}}}
        detection:
        """) + textwrap.indent(textwrap.dedent(detection), "    ")


ELASTIC = f"""\
[metadata]
creation_date = "2025/01/01"
[rule]
author = ["TokenTrail tests"]
description = "API token created."
name = "Elastic token created"
risk_score = 21
rule_id = "{ELASTIC_ID}"
severity = "low"
type = "query"
language = "kuery"
index = ["logs-okta*"]
query = 'event.dataset:okta.system and event.action:system.api_token.create'
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d: Path = tmp_path_factory.mktemp("ind")
    (d / "elastic.toml").write_text(ELASTIC)
    rules = {
        "s1": ("okta", "sel:\n  eventType: system.api_token.create\ncondition: sel\n"),
        # Upper case, case-insensitive: the same indicator.
        "s2": ("okta", "sel:\n  eventType: SYSTEM.API_TOKEN.CREATE\n  outcome.result: SUCCESS\ncondition: sel\n"),
        # Case-sensitive, other case: it counts nobody; case-insensitive rules still count it.
        "s3": ("okta", "sel:\n  eventType|cased: System.Api_Token.Create\ncondition: sel\n"),
        # Negated: another indicator.
        "s4": ("okta", "sel:\n  actor.type: User\nnot_ok:\n  outcome.result: SUCCESS\n"
                       "condition: sel and not not_ok\n"),
        # The same field name and value on another log type family: not the same indicator.
        "s5": ("auth0", "sel:\n  eventType: system.api_token.create\ncondition: sel\n"),
    }
    ids = {}
    for name, (product, detection) in rules.items():
        rule_id = f"00000000-0000-4000-8000-0000000000{name[1]}{name[1]}"
        ids[name] = rule_id
        (d / f"{name}.yml").write_text(_sigma(rule_id, product, detection))
    loaded = load_rules([d])
    assert not loaded.errors, [str(e) for e in loaded.errors]
    return indicator_corpus(loaded.runnable), ids, d


def _row(corpus, rule_id, field):
    return next(r for r in corpus.for_rule(rule_id) if r.field == field)


def test_fields_compare_in_one_schema_across_formats(corpus):
    c, ids, _ = corpus
    row = _row(c, ELASTIC_ID, "event.action")
    assert row.schema_field == "eventType" and row.family == "okta"
    assert set(row.others) == {ids["s1"]}  # its match is case-sensitive: not the upper-case s2
    assert ELASTIC_ID in _row(c, ids["s1"], "eventType").others
    assert ids["s5"] not in _row(c, ids["s1"], "eventType").others
    assert _row(c, ids["s5"], "eventType").count == 0


def test_values_compare_with_the_rules_own_case_semantics(corpus):
    c, ids, _ = corpus
    assert ids["s3"] in _row(c, ids["s1"], "eventType").others
    cased = _row(c, ids["s3"], "eventType")
    assert cased.cased and cased.count == 0
    # The Elastic rule's KQL keyword match is case-sensitive; the Sigma rules still count it.
    assert _row(c, ELASTIC_ID, "event.action").cased
    assert ELASTIC_ID in _row(c, ids["s2"], "eventType").others


def test_negation_is_part_of_the_indicator(corpus):
    c, ids, _ = corpus
    plain = _row(c, ids["s2"], "outcome.result")
    negated = _row(c, ids["s4"], "outcome.result")
    assert negated.negated and not plain.negated
    assert plain.count == 0 and negated.count == 0


def test_most_shared_first(corpus):
    c, ids, _ = corpus
    shared = c.shared(top=1)
    assert len(shared) == 1
    top = shared[0]
    assert (top.family, top.field, top.op) == ("okta", "eventType", "eq")
    assert set(top.rules) == {ids["s1"], ids["s2"], ids["s3"], ELASTIC_ID}
    assert all(len(s.rules) >= 2 for s in c.shared())
    assert len(c.shared(min_rules=1)) > len(c.shared())


def test_cli_indicators_json_and_table(corpus):
    _, ids, d = corpus
    result = CliRunner().invoke(app, ["indicators", "-r", str(d), "--top", "3", "--format", "json"], env=WIDE)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 1  # only one indicator is shared by 2+ rules
    assert rows[0]["field"] == "eventType" and len(rows[0]["rules"]) == 4
    assert {r["title"] for r in rows[0]["rules"]} >= {"Elastic token created", "Rule 11"}
    table = CliRunner().invoke(app, ["indicators", "-r", str(d), "--min-rules", "1"], env=WIDE)
    assert table.exit_code == 0
    assert "actor.type" in table.stdout and "not eq" in table.stdout


def test_bundled_pack_counts_are_symmetric_for_case_insensitive_rules():
    c = indicator_corpus(load_rules().runnable)
    by_rule = {rid: rows for rid, rows in c.rows.items()}
    for rid, rows in by_rule.items():
        for row in rows:
            for other in row.others:
                back = [o for o in by_rule[other] if o.key == row.key]
                assert back, (rid, row, other)
                if not back[0].cased and not row.cased:
                    assert rid in back[0].others


def test_rules_show_prints_the_corpus_count_column(corpus):
    c, ids, d = corpus
    result = CliRunner().invoke(app, ["rules", "show", ELASTIC_ID, "-r", str(d), "--format", "json"], env=WIDE)
    assert result.exit_code == 0, result.output
    shown = {i["field"]: i["corpus"] for i in json.loads(result.stdout)["indicators"]}
    assert shown["event.action"] == [_row(c, ELASTIC_ID, "event.action").count] == [1]
    table = CliRunner().invoke(app, ["rules", "show", ids["s1"], "-r", str(d)], env=WIDE)
    assert "corpus" in table.stdout
    line = next(x for x in table.stdout.splitlines() if "system.api_token.create" in x and "│ eq" in x)
    assert line.rstrip(" │").split("│")[-1].strip() == str(_row(c, ids["s1"], "eventType").count) == "3"
