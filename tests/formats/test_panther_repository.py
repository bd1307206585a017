"""A Panther repository as a whole: discovery from its root, data models and helpers found for a
sub-folder, helper import failures, the folders and items pat test skips."""

from __future__ import annotations

import uuid
from pathlib import Path
from textwrap import dedent

import pytest

from tokentrail.engine.testing import run_rule_tests
from tokentrail.formats.panther import run_panther_tests
from tokentrail.formats.panther.analysis import SIMPLE_TESTS_SKIPPED
from tokentrail.formats.panther.format import OUTSIDE_PAT_FOLDERS
from tokentrail.rules.loader import LoadContext, load_rules


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text))
    return path


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str, str]:
    """A small Panther repository; helper module names are unique per test (modules are global)."""
    tag = uuid.uuid4().hex[:8]
    good, broken = f"good_helpers_{tag}", f"broken_helpers_{tag}"
    root = tmp_path / "repo"
    write(root, f"global_helpers/{good}.py", "def shout(text):\n    return text.upper()\n")
    write(root, f"global_helpers/{broken}.py", "X = 1\nimport no_such_module_anywhere  # noqa\n")
    write(
        root,
        "data_models/okta.yml",
        """\
        AnalysisType: datamodel
        DataModelID: Repo.Okta
        Enabled: true
        LogTypes: [Okta.SystemLog]
        Mappings:
          - Name: actor_user
            Path: $.actor.alternateId
        """,
    )
    write(
        root,
        "rules/okta/uses_model.py",
        f"""\
        from {good} import shout


        def rule(event):
            return event.udm("actor_user") == "a@example.com"


        def title(event):
            return shout(event.udm("actor_user"))
        """,
    )
    write(
        root,
        "rules/okta/uses_model.yml",
        """\
        AnalysisType: rule
        RuleID: Repo.UsesModel
        Filename: uses_model.py
        Enabled: true
        LogTypes: [Okta.SystemLog]
        Severity: Low
        Tests:
          - Name: model maps actor_user
            ExpectedResult: true
            Log: {p_log_type: Okta.SystemLog, actor: {alternateId: a@example.com}}
        """,
    )
    for n in (1, 2):
        write(root, f"rules/okta/broken_{n}.py", f"import {broken}\n\n\ndef rule(event):\n    return True\n")
        write(
            root,
            f"rules/okta/broken_{n}.yml",
            f"""\
            AnalysisType: rule
            RuleID: Repo.Broken{n}
            Filename: broken_{n}.py
            Enabled: true
            LogTypes: [Okta.SystemLog]
            Severity: Low
            Tests:
              - Name: any
                ExpectedResult: true
                Log: {{}}
            """,
        )
    write(
        root,
        "rules/github/simple.yml",
        """\
        AnalysisType: rule
        RuleID: Repo.Simple
        Enabled: true
        LogTypes: [GitHub.Audit]
        Severity: Low
        Detection:
          - DeepKey: [repos]
            Condition: AnyElement
            Expressions:
              - Key: action
                Condition: Equals
                Value: repo.archived
        Tests:
          - Name: archived
            ExpectedResult: true
            Log: {repos: [{action: repo.archived}]}
        """,
    )
    # What pat test leaves unread at the root: other folders, non-YAML files.
    write(root, "templates/example_rule.yml", "AnalysisType: rule\nRuleID: T\nFilename: missing.py\n")
    write(root, "test_scenarios/okta/new_user.yml", "events: []\n")
    write(root, "pyproject.toml", "[project]\nname = 'x'\n")
    return root, good, broken


def test_a_sub_folder_finds_the_repositorys_data_models_and_helpers(repo) -> None:
    root, _, broken = repo
    result = load_rules([root / "rules" / "okta"])
    by_id = {r.id: r for r in result.rules}
    # The data model was found beside global_helpers/, not among the paths given.
    assert "Repo.Okta" not in by_id
    [outcome] = run_panther_tests([by_id["Repo.UsesModel"]])
    assert outcome.passed and outcome.outputs["title"] == "A@EXAMPLE.COM"
    # The broken helper is one error naming its file; each rule importing it says which helper.
    [error] = result.errors
    assert error.file == str((root / "global_helpers" / f"{broken}.py").resolve()) and error.line == 2
    assert "no_such_module_anywhere" in error.message
    broken_outcomes = run_panther_tests([by_id["Repo.Broken1"], by_id["Repo.Broken2"]])
    assert [o.passed for o in broken_outcomes] == [False, False]
    assert all(f"helper module {broken} failed to import" in o.detail for o in broken_outcomes)


def test_the_root_skips_what_pat_test_skips_and_lists_each_data_model_once(repo) -> None:
    root, _, _ = repo
    result = load_rules([root])
    skipped = dict(result.skipped)
    assert skipped[str(root / "templates" / "example_rule.yml")] == OUTSIDE_PAT_FOLDERS
    assert str(root / "test_scenarios" / "okta" / "new_user.yml") in skipped
    assert str(root / "pyproject.toml") in skipped
    assert [e.file for e in result.errors] == [str(next((root / "global_helpers").glob("broken_*.py")).resolve())]
    assert [r.id for r in result.rules].count("Repo.Okta") == 1


def test_simple_detection_tests_are_skipped_with_pats_reason(repo) -> None:
    root, _, _ = repo
    result = load_rules([root / "rules" / "github"])
    [rule] = result.rules
    [outcome] = run_panther_tests([rule])
    assert outcome.skipped and outcome.passed and outcome.detail == SIMPLE_TESTS_SKIPPED
    [engine_result] = run_rule_tests([rule])
    assert engine_result.skipped and engine_result.passed and engine_result.detail == SIMPLE_TESTS_SKIPPED


def test_extra_data_model_dirs_from_the_context(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write(
        models,
        "m.yml",
        """\
        AnalysisType: datamodel
        DataModelID: Extra.Model
        Enabled: true
        LogTypes: [Custom.Log]
        Mappings:
          - Name: who
            Path: $.user.name
        """,
    )
    write(tmp_path / "rules", "r.py", "def rule(event):\n    return event.udm('who') == 'ann'\n")
    write(
        tmp_path / "rules",
        "r.yml",
        """\
        AnalysisType: rule
        RuleID: Extra.Rule
        Filename: r.py
        Enabled: true
        LogTypes: [Custom.Log]
        Severity: Low
        Tests:
          - Name: read through the extra model
            ExpectedResult: true
            Log: {p_log_type: Custom.Log, user: {name: ann}}
        """,
    )
    without = load_rules([tmp_path / "rules"])
    assert [o.passed for o in run_panther_tests(without.rules)] == [False]
    with_models = load_rules([tmp_path / "rules"], context=LoadContext(data_model_dirs=(models,)))
    assert [o.passed for o in run_panther_tests(with_models.rules)] == [True]


def test_a_broken_data_model_is_one_error_whether_found_beside_the_helpers_or_among_the_paths(repo) -> None:
    root, _, _ = repo
    bad = write(root, "data_models/broken.yml", "AnalysisType: datamodel\nDataModelID: B\nEnabled: true\nLogTypes: [X.Y]\n")
    for paths in ([root / "rules" / "okta"], [root]):
        errors = [e for e in load_rules(paths).errors if e.file == str(bad)]
        assert len(errors) == 1 and "Mappings" in errors[0].message
