"""Log-type detection on the shapes real exports give events (field names and layouts of public
examples: Panther's data lake and rule tests, Splunk exports, Elastic's integrations, Auth0's
Management API), and the key folding that lets rules read them."""

from __future__ import annotations

import orjson
import pytest

from tokentrail.schemas import (
    Recognised,
    UnknownLogType,
    detect_log_type,
    detector,
    fold_keys,
    forced_detector,
    recognise,
    resolve_log_type_name,
    with_panther_fields,
)

# An Okta System Log event as Panther's data lake stores it: top-level columns in lower case,
# nested keys as Okta wrote them.
PANTHER_OKTA_ROW = {
    "uuid": "8a1d2e3f-0a9b-11ef-8d21-5b7e3c9a0f11",
    "published": "2026-11-30 08:14:22.381",
    "eventtype": "app.oauth2.as.token.grant.refresh_token",
    "legacyeventtype": "app.oauth2.as.token.grant.refresh_token_failure",
    "displaymessage": "OAuth2 access token grant",
    "actor": {"id": "0oa7q1x2y3z4", "type": "PublicClientApp", "alternateId": "0oa7q1x2y3z4"},
    "client": {"ipAddress": "198.51.100.23", "userAgent": {"rawUserAgent": "okhttp/4.12.0"}},
    "outcome": {"result": "FAILURE", "reason": "refresh token reuse"},
    "authenticationcontext": {"authenticationStep": 0, "externalSessionId": "trs4kq1xZ"},
    "debugcontext": {"debugData": {"grantType": "refresh_token", "requestUri": "/oauth2/v1/token"}},
    "securitycontext": {"asNumber": 64500, "asOrg": "example transit", "isProxy": False},
    "request": {"ipChain": [{"ip": "198.51.100.23", "version": "V4"}]},
    "target": [{"id": "0oa7q1x2y3z4", "type": "AppInstance"}],
}


def test_panther_lower_case_okta_row_is_okta_with_canonical_keys():
    found = detector()(PANTHER_OKTA_ROW)
    assert isinstance(found, Recognised) and found.log_type == "okta"
    event = found.event
    assert event["eventType"] == "app.oauth2.as.token.grant.refresh_token"
    assert event["authenticationContext"]["externalSessionId"] == "trs4kq1xZ"
    assert event["debugContext"]["debugData"]["grantType"] == "refresh_token"
    assert event["securityContext"]["asOrg"] == "example transit"
    assert event["legacyEventType"].endswith("_failure") and event["displayMessage"]
    assert "eventtype" not in event and "debugcontext" not in event
    assert event["target"] == PANTHER_OKTA_ROW["target"]  # already canonical: shared, not copied
    assert event["target"] is PANTHER_OKTA_ROW["target"]
    assert PANTHER_OKTA_ROW["eventtype"] and "eventType" not in PANTHER_OKTA_ROW  # input untouched


def test_canonical_events_come_back_unchanged(okta_event, auth0_stream_event, salesforce_event):
    for event in (okta_event, auth0_stream_event, salesforce_event):
        assert detector()(event).__class__ is str
        assert fold_keys(event, detect_log_type(event)) is event


def test_keys_in_any_case_fold_at_every_level_and_unknown_keys_stay():
    event = {"EVENTTYPE": "user.session.start", "UUID": "u1", "Client": {"IPADDRESS": "192.0.2.1"},
             "customColumn": 1, "debugContext": {"DEBUGDATA": {"newKey": "x"}}}
    assert recognise(event) == ("okta", {
        "eventType": "user.session.start", "uuid": "u1", "client": {"ipAddress": "192.0.2.1"},
        "customColumn": 1, "debugContext": {"debugData": {"newKey": "x"}}})


def test_the_exact_key_wins_over_another_spelling():
    event = {"eventtype": "lower", "eventType": "exact", "uuid": "u"}
    assert detect_log_type(event) == "okta"
    assert fold_keys(event, "okta") is event  # nothing to rename: the exact key is the field


@pytest.mark.parametrize("event", [
    {"eventType": "user.session.start", "actor": {"id": "00u1", "type": "User"}},
    {"eventtype": "user.session.start", "actor": {"id": "00u1"}, "outcome": {"result": "SUCCESS"}},
])
def test_okta_minimal_envelope_without_uuid_or_published(event):
    assert detect_log_type(event) == "okta"


def test_an_event_type_alone_is_still_not_okta():
    assert detect_log_type({"eventType": "x"}) is None
    assert detect_log_type({"eventtype": "x", "displaymessage": "y"}) is None


def test_panther_p_log_type_decides():
    okta = {"p_log_type": "Okta.SystemLog", "eventtype": "user.session.start", "p_event_time": "t"}
    assert recognise(okta) == ("okta", {"p_log_type": "Okta.SystemLog", "eventType": "user.session.start",
                                        "p_event_time": "t"})
    auth0 = {"p_log_type": "Auth0.Events", "data": {"type": "sapi", "date": "2025-10-03 14:09:32.149000000",
                                                    "description": "Update tenant settings"}}
    assert detect_log_type(auth0) == "auth0"
    login_as = {"p_log_type": "Salesforce.LoginAs", "EVENT_TYPE": "LoginAs", "REQUEST_ID": "4dmdpWcN"}
    assert detect_log_type(login_as) == "salesforce"
    rtem = {"p_log_type": "Salesforce.RealtimeEvent", "EventIdentifier": "b1f2", "EventDate": "2026-11-30"}
    assert detect_log_type(rtem) == "salesforce.rtem"


def test_panther_log_types_without_a_schema_are_generic_log_types():
    github = {"p_log_type": "GitHub.Audit", "action": "protected_branch.destroy", "actor": "cat",
              "created_at": 1621305118553, "org": "my-org", "repo": "my-org/my-repo"}
    assert detector()(github) == "GitHub.Audit"
    # A GitHub workflow event carries an `event` key, which is also an ECS probe: p_log_type wins.
    assert detect_log_type(dict(github, event="schedule")) == "GitHub.Audit"
    assert detect_log_type({"p_log_type": "not a panther name", "x": 1}) is None


def test_splunk_export_lines_are_unwrapped():
    native = {"uuid": "u1", "published": "2026-11-30T08:16:40.118Z", "eventType": "user.session.start"}
    raw_result = {"preview": False, "result": {"_raw": orjson.dumps(native).decode(), "host": "h",
                                                "sourcetype": "OktaIM2:log"}}
    assert recognise(raw_result) == ("okta", native)
    fields_result = {"preview": False, "result": {"eventType": "user.session.start", "uuid": "u2",
                                                   "outcome.result": "SUCCESS"}}
    assert recognise(fields_result) == ("okta", fields_result["result"])
    lower_raw = {"_raw": orjson.dumps(PANTHER_OKTA_ROW).decode(), "_time": "1796000000", "index": "okta"}
    log_type, event = recognise(lower_raw)
    assert log_type == "okta" and event["eventType"] == PANTHER_OKTA_ROW["eventtype"]


@pytest.mark.parametrize("event", [
    {"preview": False, "result": {"_raw": "Nov 30 08:16:40 host sshd[1]: Accepted", "host": "h"}},
    {"preview": False, "result": {"count": "12"}},
    {"_raw": "{not json"},
])
def test_splunk_lines_holding_other_data_are_unknown(event):
    assert detect_log_type(event) is None


def test_ecs_documents_are_scanned_as_ecs_even_with_event_original():
    native = {"uuid": "u1", "published": "2026-11-30T08:16:40.118Z", "eventType": "user.session.start"}
    document = {"@timestamp": "2026-11-30T08:16:40.118Z",
                "event": {"dataset": "okta.system", "action": "user.session.start",
                          "original": orjson.dumps(native).decode()}}
    assert detector()(document) == "ecs.okta"


def test_ecs_documents_of_no_known_dataset_fall_back_to_event_original():
    native = {"log_id": "9002", "data": {"type": "seccft", "date": "2026-11-30T08:16:40.118Z"}}
    document = {"@timestamp": "2026-11-30T08:16:40.118Z", "event.original": orjson.dumps(native).decode(),
                "event.kind": "event"}
    assert recognise(document) == ("auth0", native)


def test_auth0_management_api_records_without_log_id():
    with_id = {"_id": "90020230616045255729813000000000000001223372038324184656", "date": "2023-06-16T04:52:50.663Z",
               "type": "sapi", "description": "Create invitations to organization", "client_id": "6xNLmMWZ",
               "client_name": "", "ip": "12.12.12.12", "user_id": "google-oauth2|1052612621", "log_id": None}
    del with_id["log_id"]
    assert detect_log_type(with_id) == "auth0.api"
    no_id = {"date": "2023-06-16T04:52:50.663Z", "type": "fsa", "client_id": "6xNLmMWZ", "ip": "12.12.12.12"}
    assert detect_log_type(no_id) == "auth0.api"
    stream_without_log_id = {"data": {"_id": "9002", "date": "2023-06-16T04:52:50.663Z", "type": "sapi",
                                      "description": "Create invitations to organization"}}
    assert detect_log_type(stream_without_log_id) == "auth0"


def test_forced_log_type_folds_keys_and_takes_wrappers_off():
    force = forced_detector("okta")
    assert force({"uuid": "u", "eventType": "x", "published": "p"}) == "okta"
    found = force({"eventtype": "x"})  # nothing else tells it is Okta: forced all the same
    assert isinstance(found, Recognised) and found.event == {"eventType": "x"}
    wrapped = force({"_raw": '{"EventType": "y"}'})
    assert wrapped.event == {"eventType": "y"}
    assert forced_detector("Okta.SystemLog")({"eventtype": "x"}).log_type == "okta"
    assert forced_detector("GitHub.Audit")({"action": "x"}) == "GitHub.Audit"


def test_unknown_forced_name_lists_the_known_ones():
    with pytest.raises(UnknownLogType) as err:
        forced_detector("okat")
    message = str(err.value)
    assert "okat" in message and "okta" in message and "auth0.api" in message and "GitHub.Audit" in message
    assert resolve_log_type_name("Salesforce.Login") == "salesforce"


def test_panther_standard_fields_from_the_indicators_of_the_data_file():
    event = recognise(PANTHER_OKTA_ROW)[1]
    enriched = with_panther_fields(event, "okta")
    assert enriched["p_log_type"] == "Okta.SystemLog"
    assert enriched["p_event_time"] == "2026-11-30 08:14:22.381000"
    assert enriched["p_any_ip_addresses"] == ["198.51.100.23"]  # client and ipChain: one value once
    assert enriched["p_any_actor_ids"] == ["0oa7q1x2y3z4"]
    assert enriched["p_any_trace_ids"] == ["trs4kq1xZ"]
    assert "p_any_emails" not in enriched  # an app's alternateId is no email address
    assert "p_log_type" not in event  # the event itself is left as it was


def test_panther_fields_already_present_are_kept_and_families_name_members():
    sf = {"EVENT_TYPE": "LoginAs", "TIMESTAMP_DERIVED": "2021-08-19T09:05:03.392Z", "SOURCE_IP": "10.1.2.3",
          "CLIENT_IP": "not an ip", "USER_NAME": "admin.user@yourcompany.io"}
    enriched = with_panther_fields(sf, "salesforce")
    assert enriched["p_log_type"] == "Salesforce.LoginAs"
    assert enriched["p_any_ip_addresses"] == ["10.1.2.3"]
    assert enriched["p_any_emails"] == ["admin.user@yourcompany.io"]
    export = {"p_log_type": "Okta.SystemLog", "p_event_time": "2022-12-13 15:22:58.759", "eventType": "x",
              "actor": {"alternateId": "jane@example.com"}}
    kept = with_panther_fields(export, "okta")
    assert kept["p_event_time"] == "2022-12-13 15:22:58.759" and kept["p_any_emails"] == ["jane@example.com"]
