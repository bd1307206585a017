"""Rule field names -> event field names, per log type and rule dialect."""

from __future__ import annotations

import pytest

from tokentrail.errors import ConfigError
from tokentrail.rules.ir import All, Cmp, Exists, FieldRef, map_fields
from tokentrail.schemas import dialect_of, field_for, field_map, get_log_type


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("eventtype", "eventType"),
        ("displaymessage", "displayMessage"),
        ("actor.alternateid", "actor.alternateId"),
        ("client.ipaddress", "client.ipAddress"),
        ("outcome.result", "outcome.result"),
        ("OUTCOME.REASON", "outcome.reason"),
        ("debugcontext.debugdata.requesturi", "debugContext.debugData.requestUri"),
        ("debugcontext.debugdata.logonlysecuritydata", "debugContext.debugData.logOnlySecurityData"),
        ("securitycontext.isproxy", "securityContext.isProxy"),
        ("client.useragent.rawuseragent", "client.userAgent.rawUserAgent"),
        ("client.geographicalcontext.geolocation.lat", "client.geographicalContext.geolocation.lat"),
        ("target.displayname", "target.displayName"),
        ("eventType", "eventType"),
    ],
)
def test_lower_case_sigmahq_okta_names(written, expected):
    assert field_for("okta", written) == expected


def test_okta_unknown_tail_keeps_its_spelling_after_a_known_prefix():
    assert field_for("okta", "debugcontext.debugdata.someNewKey") == "debugContext.debugData.someNewKey"
    assert field_for("okta", "notAnOktaField.x") == "notAnOktaField.x"


def test_array_marker_is_kept_on_the_renamed_part():
    assert field_for("okta", "target{}") == "target{}"
    assert field_for("okta", "target{}.alternateid") == "target.alternateId"
    assert field_for("auth0.api", "data.details.accessedSecrets{}") == "details.accessedSecrets{}"


def test_auth0_api_strips_the_envelope(seed000_rule):
    fields = [k for k in seed000_rule["detection"]["selection"]]
    assert [field_for("auth0.api", f) for f in fields] == [
        "type",
        "description",
        "details.accessedSecrets{}",
        "details.response.body.client_id",
    ]
    assert [field_for("auth0", f) for f in fields] == fields
    assert field_for("auth0.api", "log_id") == "log_id"


def test_auth0_bare_record_fields_get_the_envelope():
    assert field_for("auth0", "type") == "data.type"
    assert field_for("auth0", "details.accessedSecrets{}") == "data.details.accessedSecrets{}"
    assert field_for("auth0", "log_id") == "log_id"
    assert field_for("auth0", "unknown_thing") == "unknown_thing"
    assert field_for("auth0.api", "type") == "type"


def test_rtem_renames_event_log_file_columns():
    assert field_for("salesforce.rtem", "EVENT_TYPE") == "attributes.type"
    assert field_for("salesforce.rtem", "USER_ID") == "UserId"
    assert field_for("salesforce.rtem", "USER_NAME") == "Username"
    assert field_for("salesforce.rtem", "SOURCE_IP") == "SourceIp"
    assert field_for("salesforce.rtem", "CONNECTED_APP_ID") == "ConnectedAppId"
    assert field_for("salesforce.rtem", "LoginType") == "LoginType"
    assert field_for("salesforce", "EVENT_TYPE") == "EVENT_TYPE"


def test_rtem_names_map_back_to_columns_on_event_log_files():
    assert field_for("salesforce", "UserId") == "USER_ID"
    assert field_for("salesforce", "attributes.type") == "EVENT_TYPE"
    assert field_for("salesforce.rtem", "UserId") == "UserId"


def test_native_names_on_ecs_documents():
    assert field_for("ecs.okta", "eventType") == "event.action"
    assert field_for("ecs.okta", "eventtype") == "event.action"
    assert field_for("ecs.okta", "client.ipaddress") == "source.ip"
    assert field_for("ecs.okta", "debugcontext.debugdata.url") == "okta.debug_context.debug_data.url"
    assert field_for("ecs.okta", "legacyEventType") == "legacyEventType"


def test_ecs_names_on_native_events():
    assert field_for("okta", "event.action", "ecs") == "eventType"
    assert field_for("okta", "source.ip", "ecs") == "client.ipAddress"
    assert field_for("okta", "@timestamp", "ecs") == "published"
    assert field_for("okta", "okta.debug_context.debug_data.url", "ecs") == "debugContext.debugData.url"
    assert field_for("okta", "event.dataset", "ecs") == "event.dataset"


def test_ecs_names_on_ecs_documents_are_unchanged():
    for lt in ("ecs.okta", "ecs.auth0", "ecs.salesforce"):
        assert field_for(lt, "event.action", "ecs") == "event.action"
    assert dict(field_map("ecs.okta", "ecs")) == {}


def test_both_directions_come_from_one_table():
    table = get_log_type("ecs.okta").ecs_fields
    for native, ecs_name in table.items():
        assert field_for("ecs.okta", native) == ecs_name
        # several native fields may share an ECS field: the way back picks one of them
        assert field_for("ecs.okta", field_for("okta", ecs_name, "ecs")) == ecs_name


def test_field_map_works_with_map_fields():
    mapping = field_map("okta")
    expr = All(
        (
            Cmp("eventtype", "eq", ("user.session.start",)),
            Exists("client.ipaddress"),
            FieldRef("actor.alternateid", "target.alternateid"),
        )
    )
    assert map_fields(expr, mapping) == All(
        (
            Cmp("eventType", "eq", ("user.session.start",)),
            Exists("client.ipAddress"),
            FieldRef("actor.alternateId", "target.alternateId"),
        )
    )


def test_field_map_is_a_mapping_of_real_renames():
    mapping = field_map("okta")
    assert mapping["eventtype"] == "eventType"
    assert "eventtype" in mapping
    assert "eventType" not in mapping  # already the event's name
    assert mapping.get("notafield", "notafield") == "notafield"
    with pytest.raises(KeyError):
        mapping["notafield"]
    listed = dict(mapping)
    assert listed["displaymessage"] == "displayMessage"
    assert all(k != v for k, v in listed.items())
    assert len(mapping) == len(listed)


def test_rtem_field_map_lists_its_renames():
    assert dict(field_map("salesforce.rtem"))["USER_ID"] == "UserId"


def test_unknown_log_type_or_dialect():
    with pytest.raises(ConfigError):
        field_map("nope")
    with pytest.raises(ConfigError):
        field_for("okta", "eventType", "splunk")


def test_dialect_of_formats():
    assert dialect_of("elastic") == "ecs"
    assert dialect_of("sigma") == "native"
    assert dialect_of("panther") == "native"
