"""Recognising the log type of events of every form."""

from __future__ import annotations

import shutil
import time
from collections import UserDict

import pytest

from tokentrail.schemas import detect_log_type, detector
from tokentrail.schemas.detect import build_detector
from tokentrail.schemas.registry import DATA_DIR, load_registry


def test_native_forms(okta_event, auth0_stream_event, auth0_api_event, salesforce_event, rtem_event):
    assert detect_log_type(okta_event) == "okta"
    assert detect_log_type(auth0_stream_event) == "auth0"
    assert detect_log_type(auth0_api_event) == "auth0.api"
    assert detect_log_type(salesforce_event) == "salesforce"
    assert detect_log_type(rtem_event) == "salesforce.rtem"


def test_ecs_documents_with_dotted_and_nested_keys(ecs_okta_dotted, ecs_okta_nested):
    assert detect_log_type(ecs_okta_dotted) == "ecs.okta"
    assert detect_log_type(ecs_okta_nested) == "ecs.okta"


def test_ecs_family_from_dataset_or_module_without_vendor_values():
    assert (
        detect_log_type({"@timestamp": "2024-01-30T00:00:00Z", "event": {"dataset": "auth0.logs"}})
        == "ecs.auth0"
    )
    assert (
        detect_log_type({"@timestamp": "2024-01-30T00:00:00Z", "event.dataset": "salesforce.login"})
        == "ecs.salesforce"
    )
    assert (
        detect_log_type({"@timestamp": "2024-01-30T00:00:00Z", "data_stream": {"dataset": "okta.system"}})
        == "ecs.okta"
    )
    assert (
        detect_log_type({"@timestamp": "2024-01-30T00:00:00Z", "event": {"module": "salesforce"}})
        == "ecs.salesforce"
    )


def test_ecs_document_of_another_vendor_is_not_ours():
    assert (
        detect_log_type({"@timestamp": "2024-01-30T00:00:00Z", "event": {"dataset": "system.auth"}}) is None
    )
    assert detect_log_type({"@timestamp": "2024-01-30T00:00:00Z"}) is None


def test_native_okta_event_indexed_with_a_timestamp_stays_native(okta_event):
    assert detect_log_type(dict(okta_event, **{"@timestamp": okta_event["published"]})) == "okta"


def test_auth0_envelope_with_flattened_data_keys():
    event = {"log_id": "1", "data.type": "s", "data.date": "2024-01-30T00:00:00Z"}
    assert detect_log_type(event) == "auth0"


def test_rtem_streaming_record_without_attributes():
    assert detect_log_type({"EventDate": "2024-02-01T14:30:45Z", "EventUuid": "x"}) == "salesforce.rtem"


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"foo": 1},
        {"eventType": "x"},
        {"data": {"type": "s"}},
        {"log_id": "1", "data": "not an object"},
        {"type": "s", "date": "d"},
    ],
)
def test_incomplete_or_foreign_events_are_unknown(event):
    assert detect_log_type(event) is None


@pytest.mark.parametrize("event", [None, [], "eventType", 42])
def test_non_mappings_are_unknown_not_errors(event):
    assert detect_log_type(event) is None


def test_other_mapping_types_are_detected(okta_event, auth0_stream_event):
    assert detect_log_type(UserDict(okta_event)) == "okta"
    wrapped = UserDict(auth0_stream_event)
    wrapped["data"] = UserDict(auth0_stream_event["data"])
    assert detect_log_type(wrapped) == "auth0"


def test_seed_002_panther_test_logs_are_salesforce_rows(seed002_rule):
    logs = [t["Log"] for t in seed002_rule["Tests"]]
    assert len(logs) == 5
    assert {detect_log_type(log) for log in logs} == {"salesforce"}


def test_vendor_file_values_win_over_family_guess(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    (data / "ecs" / "auth0.yml").write_text(
        "log_type: auth0\necs_log_type: ecs.auth0\ndetect: {observer.product: Auth0}\n", encoding="utf-8"
    )
    detect = build_detector(load_registry(data))
    assert detect({"@timestamp": "t", "observer": {"product": "Auth0"}}) == "ecs.auth0"
    assert detect({"@timestamp": "t", "observer.product": "Auth0"}) == "ecs.auth0"
    assert detect({"@timestamp": "t", "observer": {"product": "Other"}}) is None


def test_detection_speed_sanity(okta_event, auth0_api_event, salesforce_event, ecs_okta_nested):
    """Not a timing assertion: a mixed stream is classified correctly at scan-like volume."""
    events = [okta_event, auth0_api_event, salesforce_event, ecs_okta_nested] * 5000
    detect = detector()
    start = time.perf_counter()
    kinds = [detect(e) for e in events]
    elapsed = time.perf_counter() - start
    assert kinds[:4] == ["okta", "auth0.api", "salesforce", "ecs.okta"]
    assert kinds.count("okta") == 5000
    assert elapsed >= 0.0
