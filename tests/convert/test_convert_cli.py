"""``tokentrail convert``: several targets at once, JSON per rule and target, one file per rule and
target, and a rule that cannot be converted (or loaded) never stopping the others."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tokentrail.cli import app

WIDE = {"COLUMNS": "300", "NO_COLOR": "1", "TERM": "dumb"}

GOOD = """\
title: Okta API token created
id: 5b0e7c1a-0000-4000-8000-0000000000c1
logsource: {product: okta}
detection:
  sel: {eventType: system.api_token.create}
  condition: sel
level: high
tags: [attack.t1528]
"""

# Converts to Sigma and Splunk, but not to the Okta filter (no negation there).
NEGATED = """\
title: Okta token grant not failed
id: 5b0e7c1a-0000-4000-8000-0000000000c2
logsource: {product: okta}
detection:
  sel: {eventType|startswith: app.oauth2.as.token.grant}
  failed: {outcome.result: FAILURE}
  condition: sel and not failed
"""


def run(*args):
    return CliRunner().invoke(app, ["convert", *map(str, args)], env=WIDE, catch_exceptions=False)


def _rules(tmp_path, **files):
    d = tmp_path / "rules"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def test_json_gives_query_status_caveats_per_rule_and_target_and_portability(tmp_path):
    rules = _rules(tmp_path, **{"good.yml": GOOD, "negated.yml": NEGATED})
    result = run("-r", rules, "--to", "splunk", "--to", "okta", "--to", "sigma", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["summary"] == {"exact": 5, "caveats": 0, "not_convertible": 1}
    by_id = {r["id"]: r for r in doc["rules"]}
    good = by_id["5b0e7c1a-0000-4000-8000-0000000000c1"]
    assert set(good) == {"id", "title", "format", "path", "portability", "conversions"}
    assert [c["target"] for c in good["conversions"]] == ["splunk", "okta", "sigma"]
    assert good["conversions"][0] == {"target": "splunk", "status": "exact",
                                      "query": 'eventType="system.api_token.create"', "caveats": []}
    assert good["portability"] == 100
    negated = by_id["5b0e7c1a-0000-4000-8000-0000000000c2"]
    okta = negated["conversions"][1]
    assert okta["status"] == "not_convertible" and okta["query"] == ""
    assert okta["caveats"] == ["the Okta System Log filter has no negation ('not')"]
    assert negated["portability"] == 66  # two of three targets, exactly
    # The failure is one line naming the rule's file and the target; the other conversions went on.
    lines = [line for line in result.stderr.splitlines() if "not converted" in line]
    assert lines == [f"not converted: {rules / 'negated.yml'}: okta: the Okta System Log filter has no "
                     "negation ('not')"]


def test_output_dir_gets_one_file_per_rule_and_target(tmp_path):
    rules = _rules(tmp_path, **{"good.yml": GOOD, "negated.yml": NEGATED})
    out = tmp_path / "out"
    result = run("-r", rules, "--to", "splunk", "--to", "okta", "--to", "sigma", "--output", out)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "good.okta-filter.txt", "good.spl", "good.yml", "negated.spl", "negated.yml"]
    assert (out / "good.okta-filter.txt").read_text() == 'eventType eq "system.api_token.create"\n'
    assert f"-> {out / 'good.spl'}" in result.stdout
    # What was written as Sigma loads back as the same rule.
    again = run("-r", out / "negated.yml", "--to", "splunk", "--format", "json")
    first = json.loads(run("-r", rules / "negated.yml", "--to", "splunk", "--format", "json").stdout)
    assert json.loads(again.stdout)["rules"][0]["conversions"][0]["query"] == \
        first["rules"][0]["conversions"][0]["query"]


def test_a_rule_file_that_does_not_load_is_one_error_and_the_rest_converts(tmp_path):
    rules = _rules(tmp_path, **{"good.yml": GOOD, "broken.yml": "title: x\nlogsource: {product: okta}\n"
                                                               "detection:\n  condition: nothing\n"})
    result = run("-r", rules, "--to", "splunk", "--format", "json")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and str(rules / "broken.yml") in errors[0]
    doc = json.loads(result.stdout)
    assert [r["conversions"][0]["status"] for r in doc["rules"]] == ["exact"]


def test_unknown_target_fails_in_one_line(tmp_path):
    result = run("--to", "qradar")
    assert result.exit_code == 2
    assert "--to qradar: unknown target" in result.stderr


def test_all_targets_and_text_output(tmp_path):
    rules = _rules(tmp_path, **{"good.yml": GOOD})
    result = run("-r", rules, "--to", "all")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.startswith("Okta API token created (5b0e7c1a-0000-4000-8000-0000000000c1) portability")
    for target in ("sigma", "splunk", "lucene", "esql", "eql", "kusto", "sql:duckdb", "okta", "auth0"):
        assert f"  {target}: " in text
    assert "    Okta_CL\n    | where eventType_s =~ \"system.api_token.create\"" in text


def test_rules_show_lists_the_rules_conversions(tmp_path):
    from tokentrail.convert import TARGETS

    rules = _rules(tmp_path, **{"negated.yml": NEGATED})
    result = CliRunner().invoke(app, ["rules", "show", "5b0e7c1a-0000-4000-8000-0000000000c2", "-r", str(rules),
                                      "--format", "json"], env=WIDE, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    by_target = {c["target"]: c for c in doc["conversions"]}
    assert list(by_target) == list(TARGETS)
    assert by_target["okta"]["status"] == "not_convertible"
    assert by_target["splunk"]["query"] == 'eventType="app.oauth2.as.token.grant*" NOT outcome.result="FAILURE"'
    assert isinstance(doc["portability"], int) and 0 < doc["portability"] < 100
    table = CliRunner().invoke(app, ["rules", "show", "5b0e7c1a-0000-4000-8000-0000000000c2", "-r", str(rules)],
                               env=WIDE, catch_exceptions=False)
    assert f"conversions (portability {doc['portability']}%" in table.stdout
    assert "the Okta System Log filter has no negation" in table.stdout


def test_python_rules_are_reported_not_run(tmp_path):
    data = Path(__file__).resolve().parents[1] / "data" / "parity" / "panther"
    result = run("-r", data, "--to", "splunk", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["rules"]) == 2
    splunk = {r["id"]: r["conversions"][0] for r in doc["rules"]}
    # A lifted rule converts with the lift's caveat; one for an unknown log type says so.
    lifted = splunk["TokenTrail.Parity.Okta.RefreshReuse"]
    assert lifted["status"] == "caveats" and "lifted from the rule's Python" in lifted["caveats"][0]
    assert "eventType" in lifted["query"]
    github = splunk["TokenTrail.Parity.GitHub.BranchProtectionRemoved"]
    assert github["caveats"] == ["the rule reads only log types TokenTrail does not know (GitHub.Audit)"]
    assert "about to run" not in result.stderr
    assert result.stderr.count("GitHub.Audit") == 1 and "1 with caveats, 1 not convertible" in result.stderr
