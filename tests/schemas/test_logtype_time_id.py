"""Event time and id of every log type, and the timestamp forms vendors write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tokentrail.schemas import event_id, event_time, parse_time, value_at

T = datetime(2024, 1, 30, 17, 45, 30, 123000, tzinfo=UTC).timestamp()
T2 = datetime(2024, 2, 1, 14, 30, 45, 456000, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-30T17:45:30.123Z", T),
        ("2024-01-30T17:45:30.123+00:00", T),
        ("2024-01-30T17:45:30.123+0000", T),
        ("2024-01-30T18:45:30.123+01:00", T),
        ("2024-01-30T12:45:30.123-05:00", T),
        ("2024-01-30 17:45:30.123", T),
        ("2024-01-30 17:45:30,123", T),
        ("20240130174530.123", T),
        ("2024-01-30T17:45:30.123000789Z", T),
        ("2024-01-30T18:45:30.1230007+0100", T),
        (" 2024-01-30T17:45:30.123Z ", T),
        ("2024-01-30", datetime(2024, 1, 30, tzinfo=UTC).timestamp()),
        ("20240130", datetime(2024, 1, 30, tzinfo=UTC).timestamp()),
        ("20240130174530", T - 0.123),
    ],
)
def test_timestamp_strings(text, expected):
    assert parse_time(text) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("value", [T, int(T * 1000), T * 1e6, int(T * 1e9), str(int(T * 1000)), f"{T:.3f}"])
def test_epoch_numbers_in_any_unit(value):
    assert parse_time(value) == pytest.approx(T, abs=1e-3)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        "",
        "yesterday",
        "2024-13-45T00:00:00Z",
        "20241399174530",
        float("nan"),
        float("inf"),
        {"t": 1},
        ["2024-01-30"],
    ],
)
def test_non_timestamps_are_none(value):
    assert parse_time(value) is None


def test_times_of_each_form(
    okta_event,
    auth0_stream_event,
    auth0_api_event,
    salesforce_event,
    rtem_event,
    ecs_okta_dotted,
    ecs_okta_nested,
):
    assert event_time(okta_event, "okta") == pytest.approx(T)
    assert event_time(auth0_stream_event, "auth0") == pytest.approx(T)
    assert event_time(auth0_api_event, "auth0.api") == pytest.approx(T)
    assert event_time(salesforce_event, "salesforce") == pytest.approx(T2)
    assert event_time(rtem_event, "salesforce.rtem") == pytest.approx(T2)
    assert event_time(ecs_okta_dotted, "ecs.okta") == pytest.approx(T)
    assert event_time(ecs_okta_nested, "ecs.okta") == pytest.approx(T)


def test_salesforce_falls_back_through_its_time_columns():
    assert event_time(
        {"EVENT_TYPE": "Login", "TIMESTAMP": "20240130174530.123"}, "salesforce"
    ) == pytest.approx(T)
    assert event_time(
        {"EVENT_TYPE": "Login", "TIMESTAMP_DERIVED": "garbage", "TIMESTAMP": "20240130174530.123"},
        "salesforce",
    ) == pytest.approx(T)
    assert event_time({"EVENT_TYPE": "Login", "EVENT_DATE": "2024-01-30"}, "salesforce") == pytest.approx(
        datetime(2024, 1, 30, tzinfo=UTC).timestamp()
    )


def test_seed_002_times_use_timestamp_derived(seed002_rule):
    first = seed002_rule["Tests"][0]["Log"]
    assert event_time(first, "salesforce") == pytest.approx(T)
    assert event_id(first, "salesforce") == "9HzSED8SpDD3JDW-CCZkX-"


def test_missing_or_unknown_gives_none(okta_event):
    assert event_time({"eventType": "x"}, "okta") is None
    assert event_time(okta_event, "no.such.type") is None
    assert event_id(okta_event, "no.such.type") is None


def test_ids_of_each_form(
    okta_event,
    auth0_stream_event,
    auth0_api_event,
    salesforce_event,
    rtem_event,
    ecs_okta_dotted,
    ecs_okta_nested,
):
    assert event_id(okta_event, "okta") == "3c7bd1a3-bf10-11ee-9a0c-2b5e1f6c8e11"
    assert event_id(auth0_stream_event, "auth0") == "90020240130174530123000000000000001"
    assert event_id(auth0_api_event, "auth0.api") == "90020240130174530123000000000000001"
    assert event_id({"_id": "abc", "type": "s", "date": "d"}, "auth0.api") == "abc"
    assert event_id(salesforce_event, "salesforce") == "1JBUGf0UrFF5LFZ-EEBmZ-"
    assert event_id(rtem_event, "salesforce.rtem") == "b1f2c3d4-0000-4000-8000-000000000001"
    assert event_id(ecs_okta_dotted, "ecs.okta") == "3c7bd1a3-bf10-11ee-9a0c-2b5e1f6c8e11"
    assert event_id(ecs_okta_nested, "ecs.okta") == "3c7bd1a3-bf10-11ee-9a0c-2b5e1f6c8e11"


def test_ids_are_strings_and_skip_empty_values():
    assert event_id({"REQUEST_ID": 12345}, "salesforce") == "12345"
    assert event_id({"REQUEST_ID": "", "EventIdentifier": "e1"}, "salesforce") == "e1"
    assert event_id({"uuid": {"nested": 1}}, "okta") is None


def test_value_at_mixes_nested_and_literal_dotted_keys():
    assert value_at({"a": {"b.c": 1}}, "a.b.c") == 1
    assert value_at({"a.b": {"c": 2}}, "a.b.c") == 2
    assert value_at({"a": {"b": {"c": 3}}}, "a.b.c") == 3
    assert value_at({"a": {"b": 4}}, "a.b") == 4
    assert value_at({"a": [{"b": 5}]}, "a.b") is None
    assert value_at({"a": 1}, "a.b") is None
