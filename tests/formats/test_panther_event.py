"""The Panther-compatible event object, JSONPath subset and data models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tokentrail.formats.panther.datamodel import DataModel, ModelField, Registry
from tokentrail.formats.panther.event import (
    ImmutableCaseInsensitiveDict,
    ImmutableList,
    PantherEvent,
    to_plain,
)
from tokentrail.formats.panther.jsonpath import JSONPathError, compile_path

RAW = {
    "eventType": "user.session.start",
    "Actor": {"alternateId": "a@example.com", "id": "00u1", "type": "User"},
    "client": {"ipAddress": "198.51.100.7", "geo": None},
    "target": [
        {"type": "AppInstance", "id": "0oa1", "detail": {"name": "one"}},
        {"type": "Token", "id": "00T1", "detail": {"name": "two"}},
        {"type": "Token", "id": "00T1", "detail": [{"name": "three"}, {"name": "two"}]},
    ],
    "p_event_time": "2024-01-30 17:45:30.123456789",
}


def test_keys_are_case_insensitive_at_every_level() -> None:
    event = PantherEvent(RAW)
    assert event["EVENTTYPE"] == "user.session.start"
    assert event.get("actor").get("ALTERNATEID") == "a@example.com"
    assert "actor" in event and "nope" not in event
    assert event.get("nope", "dflt") == "dflt"
    with pytest.raises(KeyError):
        event["nope"]


def test_iteration_keeps_original_keys() -> None:
    assert list(PantherEvent(RAW)) == list(RAW)
    assert len(PantherEvent(RAW)) == len(RAW)


def test_event_is_read_only_and_wraps_lazily() -> None:
    raw = {"a": {"b": [1, {"c": 2}]}}
    event = PantherEvent(raw)
    with pytest.raises(TypeError):
        event["a"] = 1  # type: ignore[index]
    nested = event["a"]
    assert isinstance(nested, ImmutableCaseInsensitiveDict)
    assert isinstance(nested["b"], ImmutableList)
    assert nested["b"][1]["C"] == 2
    # wrapping did not copy: the wrapper reads through to the raw object
    assert nested._data is raw["a"]


def test_wrapped_values_compare_with_plain_ones() -> None:
    event = PantherEvent({"a": {"b": 1}, "l": [1, 2]})
    assert event["a"] == {"b": 1}
    assert event["l"] == [1, 2]
    assert 2 in event["l"]
    assert event["l"] + [3] == [1, 2, 3]
    assert to_plain(event) == {"a": {"b": 1}, "l": [1, 2]}
    assert json.dumps(to_plain({"x": event["a"]})) == '{"x": {"b": 1}}'


def test_deep_get() -> None:
    event = PantherEvent(RAW)
    assert event.deep_get("actor", "alternateId") == "a@example.com"
    assert event.deep_get("ACTOR", "ID") == "00u1"
    assert event.deep_get("client", "geo", default="none") == "none"  # null reads as missing
    assert event.deep_get("client", "ipAddress", "deeper") is None
    assert event.deep_get("missing", "key", default=7) == 7


def test_deep_walk_fans_out_over_lists() -> None:
    event = PantherEvent(RAW)
    assert event.deep_walk("target", "type") == ["AppInstance", "Token"]  # distinct, in order
    assert event.deep_walk("target", "type", return_val="first") == "AppInstance"
    assert event.deep_walk("target", "type", return_val="last") == "Token"
    assert event.deep_walk("target", "detail", "name") == ["one", "two", "three"]
    assert event.deep_walk("actor", "id") == "00u1"  # one value: returned bare
    assert event.deep_walk("target", "nope", default="d") == "d"
    with pytest.raises(ValueError):
        event.deep_walk("target", return_val="middle")


def test_event_time_epoch_reads_panther_and_vendor_time_fields() -> None:
    expected = int(datetime(2024, 1, 30, 17, 45, 30, tzinfo=UTC).timestamp())
    assert PantherEvent(RAW).event_time_epoch() == expected
    assert PantherEvent({"published": "2024-01-30T17:45:30.500Z"}).event_time_epoch() == expected
    assert PantherEvent({"data": {"date": "2024-01-30T17:45:30Z"}}).event_time_epoch() == expected
    assert PantherEvent({"TIMESTAMP_DERIVED": "2024-01-30 17:45:30.123"}).event_time_epoch() == expected
    assert PantherEvent({"nothing": 1}).event_time_epoch() is None


def test_event_time_epoch_forms() -> None:
    expected = int(datetime(2024, 1, 30, 17, 45, 30, tzinfo=UTC).timestamp())
    assert PantherEvent({"p_event_time": expected}).event_time_epoch() == expected
    assert PantherEvent({"p_event_time": expected * 1000 + 123}).event_time_epoch() == expected
    assert PantherEvent({"published": "2024-01-30T18:45:30+01:00"}).event_time_epoch() == expected
    # An unreadable (or boolean) time field is skipped for the next one that reads.
    fallback = PantherEvent({"p_event_time": "yesterday", "published": "2024-01-30T17:45:30Z"})
    assert fallback.event_time_epoch() == expected
    assert PantherEvent({"p_event_time": True}).event_time_epoch() is None


def test_to_dict_is_a_mutable_copy_and_lookup_finds_nothing() -> None:
    raw = {"a": {"b": 1}}
    event = PantherEvent(raw)
    copy = event.to_dict()
    copy["a"]["b"] = 2
    assert raw["a"]["b"] == 1
    assert event.lookup("geo_table", "client.ipAddress") is None


def test_jsonpath_subset() -> None:
    data = {"a": {"b": [{"c": 1}, {"c": 2}, {"d": 3}]}, "x y": {"z": 4}, "deep": {"k": {"c": 5}}}
    assert compile_path("$.a.b[*].c").find(data) == [1, 2]
    assert compile_path("a.b[0].c").find(data) == [1]
    assert compile_path("$.a.b[-1].d").find(data) == [3]
    assert compile_path("$['x y'].z").find(data) == [4]
    assert compile_path('$["x y"]["z"]').find(data) == [4]
    assert sorted(compile_path("$..c").find(data)) == [1, 2, 5]
    assert compile_path("$.a.*").find(data) == [data["a"]["b"]]
    assert compile_path("$.A.B[1].C").find(data) == [2]  # keys are case-insensitive, as udm reads
    assert compile_path("$.missing").find(data) == []


@pytest.mark.parametrize("path", ["$.a[?(@.b == 1)]", "$.a[0:2]", "$.a..", ""])
def test_jsonpath_rejects_unsupported_syntax(path: str) -> None:
    with pytest.raises(JSONPathError):
        compile_path(path)


def _model(tmp_path: Path) -> Registry:
    methods = tmp_path / "model_methods.py"
    methods.write_text("def token_id(event):\n    return event.deep_get('transaction', 'detail', 'tok')\n")
    registry = Registry()
    registry.add(
        DataModel(
            "M",
            ("Okta.SystemLog",),
            {
                "source_ip": ModelField("source_ip", path=compile_path("$.client.ipAddress")),
                "targets": ModelField("targets", path=compile_path("$.target[*].id")),
                "token": ModelField("token", method="token_id"),
            },
            python_file=methods,
        )
    )
    return registry


def test_udm_reads_paths_and_methods(tmp_path: Path) -> None:
    resolve = _model(tmp_path).resolver(("Okta.SystemLog",))
    event = PantherEvent({**RAW, "transaction": {"detail": {"tok": "00T9"}}}, resolve)
    assert event.udm("source_ip") == "198.51.100.7"
    assert event.udm("targets") == ["0oa1", "00T1", "00T1"]  # several hits: a list
    assert event.udm("token") == "00T9"
    assert event.udm_path("source_ip") == "client.ipAddress"  # the path of the value found
    assert event.udm_path("token") == "token_id"
    assert event.udm_path("nope") is None


def test_udm_falls_back_to_the_event_and_defaults(tmp_path: Path) -> None:
    resolve = _model(tmp_path).resolver(("Okta.SystemLog",))
    event = PantherEvent({"eventType": "x", "client": {}}, resolve)
    assert event.udm("eventType") == "x"  # not in the model: read from the event
    assert event.udm("source_ip", default="none") == "none"
    assert PantherEvent({"a": {"b": 1}}).udm("a", "b") == 1  # no model at all


def test_udm_picks_the_model_by_p_log_type(tmp_path: Path) -> None:
    resolve = _model(tmp_path).resolver(())
    with_type = PantherEvent({"p_log_type": "Okta.SystemLog", "client": {"ipAddress": "1.2.3.4"}}, resolve)
    other = PantherEvent({"p_log_type": "AWS.CloudTrail", "source_ip": "5.6.7.8"}, resolve)
    assert with_type.udm("source_ip") == "1.2.3.4"
    assert other.udm("source_ip") == "5.6.7.8"


def test_deep_walk_returns_the_value_at_the_end_of_the_path_as_it_is() -> None:
    # A list at the end of the path comes back whole (GCP rules iterate authorizationInfo), as
    # plain JSON; a list met on the way is walked and its values collected.
    raw = {"proto": {"auth": [{"permission": "a", "granted": True}], "empty": [[], []]}, "items": [{"id": 1}, {"id": 2}]}
    event = PantherEvent(raw)
    auth = event.deep_walk("proto", "auth")
    assert auth == [{"permission": "a", "granted": True}] and isinstance(auth, list)
    assert [a.get("permission") for a in auth] == ["a"]
    assert event.deep_walk("items", "id") == [1, 2] and isinstance(event.deep_walk("items", "id"), list)
    assert event.deep_walk("proto", "empty", default="none") == "none"
    # A step missing in some elements contributes the default, as Panther's does.
    assert event.deep_walk("items", "name", default="?") == "?"


def test_immutable_copies_views_and_json() -> None:
    event = PantherEvent({"a": {"b": [1, {"c": 2}]}})
    items = event.deep_get("a", "b")
    assert isinstance(items, ImmutableList)
    copied = items.copy()
    copied[1]["c"] = 3
    assert isinstance(copied, list) and event.deep_get("a", "b")[1]["c"] == 2 and items.as_list() == [1, {"c": 2}]
    mapping = event["a"]
    assert mapping.copy() == {"b": [1, {"c": 2}]} and mapping.raw_view() is event._data["a"]
    assert json.dumps({"x": items}, default=PantherEvent.json_encoder) == '{"x": [1, {"c": 2}]}'
    assert items == [1, {"c": 2}] and items != "not a list"


def test_udm_reads_p_udm_and_treats_empty_values_as_absent() -> None:
    event = PantherEvent({"p_udm": {"user": "ann"}, "user": "bob", "zero": 0})
    assert event.udm("user") == "ann"  # p_udm first, then the event itself
    assert event.udm("zero", default="d") == "d"


def test_lookup_reads_mocked_lookup_data_as_pat_tests_do() -> None:
    event = PantherEvent({"_mocked_lookup_data_": {"geo": {"1.2.3.4": {"country": "NL"}}}})
    assert event.lookup("geo", "1.2.3.4") == {"country": "NL"} and event.lookup("geo", "5.6.7.8") is None


def test_panther_core_stand_ins_are_tokentrails_types() -> None:
    from tokentrail.formats.panther.imports import ensure_shims

    ensure_shims()
    import panther_core

    if not panther_core.__name__.startswith("tokentrail") and "tokentrail" not in (panther_core.__file__ or ""):
        pytest.skip("Panther's own panther_core is installed here; TokenTrail's stand-in is not used")
    from panther_core.enriched_event import PantherEvent as Enriched
    from panther_core.immutable import ImmutableCaseInsensitiveDict as ICD
    from panther_core.immutable import ImmutableList as IL

    assert panther_core.PantherEvent is PantherEvent is Enriched
    assert ICD is ImmutableCaseInsensitiveDict and IL is ImmutableList
