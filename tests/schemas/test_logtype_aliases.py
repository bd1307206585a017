"""ECS aliases: further ECS names of a native field, read in the ECS -> native direction only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tokentrail.compile.python import compile_expr
from tokentrail.errors import ConfigError
from tokentrail.rules.ir import All, Cmp
from tokentrail.schemas import field_for, get_log_type, specialize
from tokentrail.schemas.fields import build_field_map
from tokentrail.schemas.registry import DATA_DIR, load_registry


@pytest.mark.parametrize(
    ("log_type", "ecs_name", "native"),
    [
        ("okta", "okta.event_type", "eventType"),
        ("okta", "okta.uuid", "uuid"),
        ("okta", "user.name", "actor.alternateId"),
        ("okta", "client.user.id", "actor.id"),
        ("okta", "source.user.id", "actor.id"),
        ("okta", "client.ip", "client.ipAddress"),
        ("okta", "okta.client.user_agent.raw_user_agent", "client.userAgent.rawUserAgent"),
        ("auth0", "user.name", "data.user_name"),
        ("auth0", "client.ip", "data.ip"),
        ("auth0.api", "user.id", "user_id"),  # the alias's native path loses its envelope too
        ("salesforce", "salesforce.login.user_id", "USER_ID"),
        ("salesforce.rtem", "salesforce.login.source_ip", "SourceIp"),
    ],
)
def test_aliases_rename_ecs_names_on_native_events(log_type, ecs_name, native):
    assert field_for(log_type, ecs_name, "ecs") == native


def test_aliases_are_loaded_on_the_ecs_log_type():
    aliases = get_log_type("ecs.okta").ecs_aliases
    assert aliases["okta.event_type"] == "eventType"
    assert aliases["user.name"] == "actor.alternateId"
    assert get_log_type("okta").ecs_aliases == {}


def test_aliases_do_not_change_the_native_to_ecs_direction():
    # actor.id is indexed as okta.actor.id; client.user.id merely carries a copy of it.
    assert field_for("ecs.okta", "actor.id") == "okta.actor.id"
    assert field_for("ecs.okta", "eventType") == "event.action"
    assert field_for("ecs.okta", "user.name", "ecs") == "user.name"


def test_fields_still_read_back_next_to_aliases():
    assert field_for("okta", "event.action", "ecs") == "eventType"
    assert field_for("okta", "okta.actor.id", "ecs") == "actor.id"


def test_elastic_rule_naming_aliases_fires_on_native_okta_events(okta_event):
    expr = All((
        Cmp("okta.event_type", "eq", ("system.api_token.create",)),
        Cmp("user.name", "endswith", ("@example.com",)),
        Cmp("event.dataset", "eq", ("okta.system",)),
    ))
    matcher = compile_expr(specialize(expr, "okta", "ecs"))
    assert matcher(okta_event)
    assert not matcher({**okta_event, "eventType": "user.session.start"})


def _data_with(tmp_path: Path, aliases: str) -> Path:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    vendor = data / "ecs" / "okta.yml"
    text = vendor.read_text(encoding="utf-8").split("\naliases:", 1)[0]
    vendor.write_text(text + "\n" + aliases, encoding="utf-8")
    return data


def test_alias_chooses_between_natives_that_share_an_ecs_field(tmp_path):
    data = _data_with(tmp_path, "aliases:\n  event.action: eventType\n")
    vendor = data / "ecs" / "okta.yml"
    # Listed first, legacyEventType would be the way back from event.action without the alias.
    vendor.write_text(vendor.read_text(encoding="utf-8").replace(
        "\nfields:\n", "\nfields:\n  legacyEventType: event.action\n", 1), encoding="utf-8")
    reg = load_registry(data)
    assert build_field_map(reg, "ecs.okta", "native").resolve("legacyEventType") == "event.action"
    assert build_field_map(reg, "okta", "ecs").resolve("event.action") == "eventType"


@pytest.mark.parametrize(
    ("aliases", "message"),
    [
        ("aliases: [user.name]\n", "aliases must map"),
        ("aliases:\n  user.name: 3\n", "aliases must map"),
        ("aliases:\n  user.name: ''\n", "non-empty"),
        ("aliases:\n  event.dataset: eventType\n", "constant"),
        ("aliases:\n  event.action: displayMessage\n", "contradicts fields"),
    ],
)
def test_bad_aliases_are_reported_with_the_file(tmp_path, aliases, message):
    data = _data_with(tmp_path, aliases)
    with pytest.raises(ConfigError, match=message) as err:
        load_registry(data)
    assert err.value.file == str(data / "ecs" / "okta.yml")
