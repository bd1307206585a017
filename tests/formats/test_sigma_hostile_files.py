"""Hostile or malformed Sigma files end in a load error naming the file, quickly and in bounded
memory; the other rules of the pack still load (issue 14, item 5)."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from tokentrail.compile.batch import compile_batch
from tokentrail.engine.plan import build_plan
from tokentrail.errors import RuleLoadError
from tokentrail.formats.sigma.conditions import condition_nesting
from tokentrail.formats.sigma.simplify import simplify
from tokentrail.rules.ir import MAX_DEPTH, Cmp, Not
from tokentrail.rules.ir import Any as AnyOf
from tokentrail.rules.loader import load_rules
from tokentrail.rules.yaml_bounds import check_alias_expansion, safe_load_bounded

GOOD = """\
title: Good rule
id: good-1
logsource: {product: okta}
detection:
    sel: {eventType: user.session.start}
    condition: sel
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def laughs(levels: int, *, indent: str = "") -> list[str]:
    """``levels`` anchors, each a list of nine aliases of the one before (9**levels values)."""
    lines = [f'{indent}a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"{indent}a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return lines


def load_with_good(tmp_path: Path, name: str, text: str):
    write(tmp_path, "good.yml", GOOD)
    bad = write(tmp_path, name, text)
    started = time.perf_counter()
    result = load_rules([tmp_path])
    return result, bad, time.perf_counter() - started


def only_error(result, bad: Path) -> RuleLoadError:
    assert [r.id for r in result.rules] == ["good-1"]
    assert len(result.errors) == 1, [str(e) for e in result.errors]
    error = result.errors[0]
    assert isinstance(error, RuleLoadError) and error.file == str(bad)
    return error


def test_billion_laughs_in_metadata_is_a_quick_load_error(tmp_path):
    text = "\n".join(["title: t", "id: laughs", "logsource: {product: okta}", *laughs(10),
                      "detection:", "    sel: {eventType: x}", "    condition: sel", ""])
    assert len(text) < 700
    result, bad, took = load_with_good(tmp_path, "laughs.yml", text)
    assert "YAML aliases expand" in str(only_error(result, bad))
    assert took < 10


def test_billion_laughs_in_detection_is_a_quick_load_error(tmp_path):
    text = "\n".join(["title: t", "id: laughs", "logsource: {product: okta}", "detection:",
                      *laughs(10, indent="    "), "    sel: {eventType: *a9}", "    condition: sel", ""])
    result, bad, took = load_with_good(tmp_path, "laughs.yml", text)
    assert "YAML aliases expand" in str(only_error(result, bad))
    assert took < 10


def test_light_alias_use_still_loads(tmp_path):
    text = """\
    title: aliased
    id: aliased
    logsource: {product: okta}
    detection:
        sel: {eventType: &types [user.session.start, user.session.end]}
        other: {legacyEventType: *types}
        condition: sel or other
    """
    result = load_rules([write(tmp_path, "ok.yml", text)])
    assert not result.errors and result.rules[0].id == "aliased"


def test_alias_bound_counts_expansion_not_file_size():
    import yaml

    big = yaml.compose("\n".join(f"- v{i}" for i in range(5_000)))
    check_alias_expansion(big, limit=100)  # no aliases: any size passes
    light = yaml.compose("\n".join(laughs(3)))  # 9**3 = 729 values
    check_alias_expansion(light, limit=1_000)
    with pytest.raises(RuleLoadError, match="beyond 1,000 extra values"):
        check_alias_expansion(yaml.compose("\n".join(laughs(4))), limit=1_000)
    with pytest.raises(RuleLoadError, match="YAML aliases expand"):
        safe_load_bounded("\n".join(laughs(7)), file="x.yml")
    assert safe_load_bounded("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}


def test_recursive_alias_is_refused():
    import yaml

    node = yaml.compose("a: &x [1, *x]")
    with pytest.raises(RuleLoadError, match="contains it"):
        check_alias_expansion(node)


def selection_of(n: int) -> str:
    values = "\n".join(f"            - value-{i}" for i in range(n))
    return f"title: t\nid: many\nlogsource: {{product: okta}}\ndetection:\n    sel:\n        eventType:\n{values}\n" \
           "    condition: sel\n"


def test_or_values_merge_in_linear_time():
    # The merge step alone: 20k comparisons of one field took ~50 s when joined pairwise.
    items = tuple(Cmp("eventType", "eq", (f"v{i}",)) for i in range(20_000))
    started = time.perf_counter()
    merged = simplify(AnyOf(items))
    assert time.perf_counter() - started < 2
    assert merged == Cmp("eventType", "eq", tuple(f"v{i}" for i in range(20_000)))


def test_selection_of_20k_values_loads(tmp_path):
    started = time.perf_counter()
    result = load_rules([write(tmp_path, "many.yml", selection_of(20_000))])
    assert time.perf_counter() - started < 20  # 50 s before; ~1 s on an idle machine
    assert not result.errors and len(result.rules[0].logic.values) == 20_000


def test_a_field_of_99_parts_compiles_and_scans(tmp_path):
    field = ".".join(f"p{i}" for i in range(99))
    text = f"title: t\nid: deep\nlogsource: {{product: okta}}\ndetection:\n    sel:\n        {field}: x\n" \
           "    condition: sel\n"
    result = load_rules([write(tmp_path, "deep.yml", text)])
    plan = build_plan(result.rules)
    assert not result.errors and not plan.errors
    run = compile_batch([result.rules[0].logic])
    event: dict = {}
    leaf = event
    for i in range(98):
        leaf = leaf.setdefault(f"p{i}", {})
    leaf["p98"] = "X"
    assert run(event) == [0]
    leaf["p98"] = "y"
    assert run(event) is None


def test_deeply_nested_expression_compiles_the_same_way_as_alone():
    expr = Cmp("eventType", "eq", ("x",))
    for _ in range(MAX_DEPTH - 1):
        expr = Not(AnyOf((expr, Cmp("other", "eq", ("y",)))))
    run = compile_batch([expr])
    # An odd number of Not levels (MAX_DEPTH - 1 = 63) over a match: false; the other way true.
    assert run({"eventType": "x"}) is None
    assert run({"eventType": "z"}) == [0]


def test_not_200_times_is_a_clean_load_error(tmp_path):
    text = GOOD.replace("condition: sel", "condition: " + "not " * 200 + "sel").replace("good-1", "nots")
    result, bad, _ = load_with_good(tmp_path, "nots.yml", text)
    error = only_error(result, bad)
    assert "nests 200 levels deep" in str(error) and "Recursion" not in str(error)
    assert error.line == 6


def test_condition_nesting_is_measured_on_the_text():
    assert condition_nesting("sel") == 0
    assert condition_nesting("sel and not filter") == 1
    assert condition_nesting("not (a or not (b and not c))") == 5
    assert condition_nesting("(" * 70 + "a" + ")" * 70) == 70


def test_64_levels_of_parentheses_still_load(tmp_path):
    text = GOOD.replace("condition: sel", "condition: " + "(" * 60 + "sel" + ")" * 60).replace("good-1", "p")
    result = load_rules([write(tmp_path, "parens.yml", text)])
    assert not result.errors and result.rules[0].id == "p"


@pytest.mark.parametrize("rules_value", ["[12]", "\n        - {a: b}", "{a: b}"])
def test_correlation_with_malformed_rules_is_a_load_error(tmp_path, rules_value):
    text = GOOD + f"""---
title: corr
id: corr-1
correlation:
    type: event_count
    rules: {rules_value}
    group-by: [actor.id]
    timespan: 5m
    condition: {{gte: 2}}
"""
    path = write(tmp_path, "corr.yml", text)
    result = load_rules([path])
    assert [r.id for r in result.rules] == ["good-1"]
    (error,) = result.errors
    assert error.file == str(path) and "correlation 'rules' must list" in str(error)


def test_unquoted_placeholder_names_the_field_and_line(tmp_path):
    # The shape of a published Auth0 detection: a filter value left as an unquoted {placeholder}.
    text = """\
    title: Broad grants
    id: grants
    logsource: {product: auth0}
    detection:
        selection:
            data.type: sapi
        filter_dashboard:
            data.client_id: {dashboard_client_id}
        condition: selection and not filter_dashboard
    """
    result, bad, _ = load_with_good(tmp_path, "grants.yml", text)
    error = only_error(result, bad)
    assert error.line == 8
    assert "'data.client_id' is a YAML mapping ({dashboard_client_id})" in str(error)
    assert "quote it" in str(error)
