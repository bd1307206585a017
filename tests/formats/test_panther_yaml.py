"""YAML 1.2 core-schema reading of Panther analysis files."""

from __future__ import annotations

import math

import pytest

from tokentrail.errors import RuleLoadError
from tokentrail.formats.panther.yaml12 import load_document


def test_yaml_11_only_scalars_stay_strings() -> None:
    doc = load_document("a: off\nb: yes\nc: 2024-01-30\nd: 1_000\ne: 10.10.10.10\nf: 0055f00000RzTCE\n")
    assert doc.data == {
        "a": "off",
        "b": "yes",
        "c": "2024-01-30",
        "d": "1_000",
        "e": "10.10.10.10",
        "f": "0055f00000RzTCE",
    }


def test_core_schema_numbers_booleans_and_nulls() -> None:
    doc = load_document("a: 010\nb: 0o17\nc: 0x1F\nd: -5\ne: 1.5e3\nf: .inf\ng: True\nh: FALSE\ni: ~\nj:\n")
    data = doc.data
    assert (data["a"], data["b"], data["c"], data["d"]) == (10, 15, 31, -5)
    assert data["e"] == 1500.0 and math.isinf(data["f"])
    assert data["g"] is True and data["h"] is False
    assert data["i"] is None and data["j"] is None


def test_quoted_values_are_strings() -> None:
    assert load_document('a: "true"\nb: "59.0"\n').data == {"a": "true", "b": "59.0"}


def test_key_lines_are_one_based() -> None:
    doc = load_document("# header\nRuleID: x\n\nSeverity: High\n")
    assert doc.line("RuleID") == 2
    assert doc.line("Severity") == 4
    assert doc.line("Missing") is None


def test_duplicate_key_is_an_error_with_its_line() -> None:
    with pytest.raises(RuleLoadError) as err:
        load_document("RuleID: a\nSeverity: Low\nRuleID: b\n", file="r.yml")
    assert err.value.line == 3
    assert "duplicate key 'RuleID'" in str(err.value)
    assert str(err.value).startswith("r.yml:3:")


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(RuleLoadError) as err:
        load_document("a: [1, 2\nb: 3\n", file="bad.yml")
    assert err.value.file == "bad.yml"
    assert err.value.line is not None


def test_empty_document() -> None:
    assert load_document("").data is None
