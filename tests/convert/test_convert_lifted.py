"""Python rules convert through their lifted condition: the bundled Salesforce OAuth rule (seed
002's) to Splunk and Sigma, the Sigma loaded back giving the Python rule's verdicts; a rule that
did not lift says why; `rules show` and the catalog site's rule page show the conversions."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html import unescape

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tokentrail import convert, load_rules
from tokentrail.catalog.site import build_site
from tokentrail.catalog.site.paths import rule_page
from tokentrail.cli import app
from tokentrail.content import RULES_DIR
from tokentrail.convert import TARGETS, portability
from tokentrail.convert.registry import LIFTED_CAVEAT
from tokentrail.engine.testing import run_rule_tests
from tokentrail.rules.model import PythonLogic, Rule, RuleTest

PANTHER = RULES_DIR / "panther"
OAUTH = "Salesforce.OAuth.Credential.Abuse"
REPLAY = "TokenTrail.Salesforce.SessionKey.Replay"  # its rule() calls an imported helper
EVENT_TYPES = ("OAuthTokenRevoked", "OAuthTokenRefreshFailed", "ApiTotalUsage", "ApiConnectedApp")


@pytest.fixture(scope="module")
def pack() -> list[Rule]:
    loaded = load_rules([PANTHER])
    assert not loaded.errors, [str(e) for e in loaded.errors]
    return loaded.rules


def _rule(rules: list[Rule], rule_id: str) -> Rule:
    return next(r for r in rules if r.id == rule_id)


def test_lifted_rule_converts_to_splunk_with_the_lift_caveat(pack):
    rule = _rule(pack, OAUTH)
    assert isinstance(rule.logic, PythonLogic) and rule.logic.lifted is not None
    splunk = convert(rule, "splunk", rules=pack)
    assert splunk.status == "caveats" and splunk.caveats[0] == LIFTED_CAVEAT
    assert "title, dedup, alert_context, severity" in LIFTED_CAVEAT and "lifted from" in LIFTED_CAVEAT
    assert re.search(r'EVENT_TYPE IN \(("\w+"(, )?){4}\)', splunk.query), splunk.query
    assert all(f'"{t}"' in splunk.query for t in EVENT_TYPES) and 'EVENT_TYPE="*oauth*"' in splunk.query


def test_lifted_rule_converts_to_every_target_that_applies(pack):
    rule = _rule(pack, OAUTH)
    conversions = {t: convert(rule, t, rules=pack) for t in TARGETS}
    for target, c in conversions.items():
        if target in ("okta", "auth0"):  # the vendors' searches read their own logs only
            assert c.status == "not_convertible" and c.caveats[0].startswith("not applicable:"), c
            continue
        assert c.status == "caveats" and LIFTED_CAVEAT in c.caveats and c.query.strip(), c
        assert "OAuthTokenRevoked" in c.query and "oauth" in c.query, c
    assert 50 <= portability(conversions.values()) < 100


def test_sigma_of_the_lifted_rule_loads_back_with_the_python_verdicts(pack, tmp_path):
    rule = _rule(pack, OAUTH)
    sigma = convert(rule, "sigma", rules=pack)
    assert sigma.status == "caveats" and sigma.caveats == (LIFTED_CAVEAT,)
    path = tmp_path / "oauth.yml"
    path.write_text(sigma.query, encoding="utf-8")
    loaded = load_rules([path])
    assert not loaded.errors, [str(e) for e in loaded.errors]
    (back,) = loaded.rules
    assert back.format == "sigma" and back.logsource.product == "salesforce"

    def verdicts(r: Rule, tests: tuple[RuleTest, ...]) -> list[bool | None]:
        return [t.actual for t in run_rule_tests([replace(r, tests=tests)])]

    python = verdicts(rule, rule.tests)
    assert python == [t.expected for t in rule.tests] == [True, True, True, True, False]
    assert verdicts(back, rule.tests) == python

    # Beyond its own tests: event types near the rule's edges (case, substring, other types).
    base = dict(rule.tests[0].event)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.sampled_from([*EVENT_TYPES, "oauthtokenrevoked", "LoginOAuth", "OAUTH", "Login",
                                      "ApiTotalUsageX", ""]),
                     st.text(alphabet="OoAaUuTtHh", max_size=6)))
    @example("xOAuTh")
    def same(event_type: str) -> None:
        test = (RuleTest("generated", True, {**base, "EVENT_TYPE": event_type}),)
        assert verdicts(back, test) == verdicts(rule, test), event_type

    same()


def test_rule_that_did_not_lift_says_why(pack):
    rule = _rule(pack, REPLAY)
    assert isinstance(rule.logic, PythonLogic) and rule.logic.lifted is None and rule.logic.not_lifted
    for target in TARGETS:
        c = convert(rule, target, rules=pack)
        assert c.status == "not_convertible" and c.query == ""
        assert c.caveats == (f"Python logic cannot be converted: {rule.logic.not_lifted}",)
    assert "get_dictionary()" in rule.logic.not_lifted and "(line " in rule.logic.not_lifted


def test_rules_show_lists_the_lifted_conversions():
    result = CliRunner().invoke(app, ["rules", "show", OAUTH, "-r", str(PANTHER / "salesforce_oauth_credential_abuse.yml"),
                                      "--format", "json"], env={"NO_COLOR": "1", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    by_target = {c["target"]: c for c in shown["conversions"]}
    assert set(by_target) == set(TARGETS)
    assert by_target["splunk"]["status"] == "caveats" and LIFTED_CAVEAT in by_target["splunk"]["caveats"]
    assert 'EVENT_TYPE="*oauth*"' in by_target["splunk"]["query"]
    assert shown["portability"] is not None and shown["portability"] > 0


def test_site_rule_page_shows_the_lifted_conversions(pack, tmp_path):
    rule = _rule(pack, OAUTH)
    built = build_site(tmp_path / "out", pack, verify=False, briefs=())
    html = (built.out / rule_page(rule.id)).read_text(encoding="utf-8")
    section = re.search(r'<section id="conversions">(.*?)</section>', html, re.S).group(1)
    shown = dict(re.findall(r'<h3>(\S+) <span class="status status-(\w+)">', section))
    assert shown["splunk"] == shown["sigma"] == "caveats"
    text = unescape(section)
    assert convert(rule, "splunk", rules=pack).query in text and LIFTED_CAVEAT in text

