"""The shipped log types, lookup by name, and how broken data files are reported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tokentrail.errors import ConfigError
from tokentrail.schemas import LogType, UnknownLogType, all_log_types, get_log_type
from tokentrail.schemas.registry import DATA_DIR, load_registry

NAMES = (
    "okta",
    "auth0",
    "auth0.api",
    "salesforce",
    "salesforce.rtem",
    "azure.activitylogs",
    "azure.platformlogs",
    "ecs.okta",
    "ecs.auth0",
    "ecs.salesforce",
    "ecs.azure.activitylogs",
    "ecs.azure.platformlogs",
)


def test_every_log_type_name_is_present_in_detection_order():
    assert tuple(lt.name for lt in all_log_types()) == NAMES


@pytest.mark.parametrize(
    ("name", "anchor"),
    [
        ("okta", "eventType"),
        ("auth0", "data.type"),
        ("auth0.api", "type"),
        ("salesforce", "EVENT_TYPE"),
        ("salesforce.rtem", "attributes.type"),
        ("ecs.okta", "event.action"),
        ("ecs.auth0", "event.action"),
        ("ecs.salesforce", "event.action"),
    ],
)
def test_anchor_fields(name, anchor):
    assert get_log_type(name).anchor_field == anchor


def test_log_type_facts():
    okta = get_log_type("okta")
    assert isinstance(okta, LogType)
    assert okta.vendor == okta.product == "okta"
    assert okta.case_insensitive_fields
    assert "debugContext.debugData.requestUri" in okta.known_fields
    assert get_log_type("auth0.api").family == "auth0"
    assert get_log_type("ecs.salesforce").is_ecs
    assert not get_log_type("salesforce").is_ecs
    assert get_log_type("ecs.okta").ecs_fields["eventType"] == "event.action"


def test_log_types_are_hashable_frozen_models():
    lt = get_log_type("okta")
    assert hash(lt) == hash(get_log_type("okta"))
    with pytest.raises(AttributeError):
        lt.name = "other"  # type: ignore[misc]


def test_unknown_log_type_is_a_config_and_key_error():
    with pytest.raises(UnknownLogType) as err:
        get_log_type("gsuite")
    assert isinstance(err.value, ConfigError)
    assert isinstance(err.value, KeyError)
    assert "gsuite" in str(err.value) and "okta" in str(err.value)


def _copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def test_copied_data_loads_the_same_log_types(tmp_path):
    reg = load_registry(_copy_data(tmp_path))
    assert tuple(lt.name for lt in reg.log_types) == NAMES


def test_broken_yaml_names_the_file_and_line(tmp_path):
    data = _copy_data(tmp_path)
    (data / "okta.yml").write_text("name: okta\nfields: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_registry(data)
    assert err.value.file == str(data / "okta.yml")
    assert err.value.line is not None


def test_missing_required_key_is_reported(tmp_path):
    data = _copy_data(tmp_path)
    (data / "salesforce.yml").write_text("name: salesforce\nfamily: salesforce\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="product"):
        load_registry(data)


def test_vendor_file_for_unknown_ecs_log_type_is_reported(tmp_path):
    data = _copy_data(tmp_path)
    (data / "ecs" / "github.yml").write_text(
        "log_type: github\necs_log_type: ecs.github\nfields: {}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="ecs.github") as err:
        load_registry(data)
    assert err.value.file.endswith("github.yml")


def test_vendor_file_merges_detection_fields_and_constants(tmp_path):
    data = _copy_data(tmp_path)
    (data / "ecs" / "auth0.yml").write_text(
        "log_type: auth0\necs_log_type: ecs.auth0\n"
        "detect: {event.dataset: [auth0.logs, auth0.events]}\n"
        "fields: {data.type: event.action}\n"
        "constants: {event.dataset: auth0.logs, observer.vendor: Auth0}\n",
        encoding="utf-8",
    )
    lt = load_registry(data).get("ecs.auth0")
    assert set(lt.ecs_detect["event.dataset"]) >= {"auth0.logs", "auth0.events"}
    assert lt.ecs_fields["data.type"] == "event.action"
    assert lt.ecs_constants["observer.vendor"] == "Auth0"
    assert lt.ecs_constants["event.module"] == "auth0"  # default from ecs.yml kept
