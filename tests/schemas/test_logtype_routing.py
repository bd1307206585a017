"""Which log types a rule runs on."""

from __future__ import annotations

import pytest

from tokentrail.rules.model import LogSource
from tokentrail.schemas import all_log_types, log_types_for, log_types_for_names

ALL = tuple(lt.name for lt in all_log_types())


@pytest.mark.parametrize(
    ("logsource", "expected"),
    [
        (LogSource(product="okta"), ("okta", "ecs.okta")),
        (LogSource(product="okta", service="okta"), ("okta", "ecs.okta")),
        (LogSource(product="Okta", service="Okta"), ("okta", "ecs.okta")),
        (LogSource(product="auth0"), ("auth0", "auth0.api", "ecs.auth0")),
        (LogSource(product="salesforce"), ("salesforce", "salesforce.rtem", "ecs.salesforce")),
        (LogSource(product="salesforce", service="rtem"), ("salesforce.rtem", "ecs.salesforce")),
        (LogSource(product="salesforce", service="eventlogfile"), ("salesforce", "ecs.salesforce")),
        (LogSource(product="auth0", service="management_api"), ("auth0.api", "ecs.auth0")),
        (LogSource(product="okta", service="ecs"), ("ecs.okta",)),
        (LogSource(product="okta", service="something_new"), ("okta", "ecs.okta")),
        (LogSource(product="windows", service="security"), ()),
        (LogSource(product="windows"), ()),
        (LogSource(service="okta"), ("okta", "ecs.okta")),
        (LogSource(service="unheard_of"), ()),
        (LogSource(), ALL),
        (LogSource(category="authentication"), ALL),
    ],
)
def test_sigma_logsources(logsource, expected):
    assert log_types_for(logsource) == expected


def test_seed_000_logsource(seed000_rule):
    assert log_types_for(LogSource(**seed000_rule["logsource"])) == ("auth0", "auth0.api", "ecs.auth0")


def test_panther_log_types(seed002_rule):
    assert log_types_for_names(seed002_rule["LogTypes"], "panther") == (
        "salesforce",
        "salesforce.rtem",
        "ecs.salesforce",
    )
    assert log_types_for_names(["Okta.SystemLog"], "panther") == ("okta", "ecs.okta")
    assert log_types_for_names(["Auth0.Events"], "panther") == ("auth0", "auth0.api", "ecs.auth0")
    assert log_types_for_names(["AWS.CloudTrail"], "panther") == ()


def test_elastic_index_patterns(seed001_text):
    block = seed001_text.split("Rule indices:", 1)[1].split("Severity:", 1)[0]
    indices = [line.strip("- ").strip() for line in block.splitlines() if line.strip()]
    assert indices == ["filebeat-*", "logs-okta*"]
    assert log_types_for_names(indices, "elastic") == ALL
    assert log_types_for_names(["logs-okta*"], "elastic") == ("okta", "ecs.okta")
    assert log_types_for_names(["logs-okta.system-default"], "elastic") == ("okta", "ecs.okta")
    assert log_types_for_names(["logs-salesforce.login-*"], "elastic") == (
        "salesforce",
        "salesforce.rtem",
        "ecs.salesforce",
    )
    assert log_types_for_names(["logs-system.auth*"], "elastic") == ()


def test_tokentrail_names_select_themselves_in_any_format():
    assert log_types_for_names(["auth0.api", "okta"], "panther") == ("okta", "auth0.api")
    assert log_types_for_names(["ecs.okta"], "sigma") == ("ecs.okta",)


def test_format_names_given_as_a_logsource_product():
    assert log_types_for(LogSource(product="Okta.SystemLog"), "panther") == ("okta", "ecs.okta")
    assert log_types_for(LogSource(product="Okta.SystemLog"), "sigma") == ()
