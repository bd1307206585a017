"""Panther analysis items (YAML) to TokenTrail models.

``rule`` and ``scheduled_rule`` become ``Rule``s with ``PythonLogic`` (scheduled rules are marked
unsupported: they need a query backend, but their tests still run). ``correlation_rule`` becomes
a ``Correlation`` over the rules it names (see ``correlation``). ``datamodel`` and ``global`` are not detections: they are registered for the
rules to use and also returned as disabled ``Rule``s without logic (``metadata["analysis_type"]``
says which), so ``rules list`` can show them. ``policy`` items load like rules (their tests run;
a scan never applies them). Packs, queries, prompts and lookup tables load as disabled items
with the reason they cannot run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tokentrail.errors import RuleLoadError, UnsupportedFeature
from tokentrail.formats.panther.correlation import NotDeclarative, lower_detection
from tokentrail.formats.panther.datamodel import DataModel, ModelField, Registry
from tokentrail.formats.panther.detection import SEVERITY_NAMES, PantherDetection, RuleSpec
from tokentrail.formats.panther.filters import lower_inline_filters
from tokentrail.formats.panther.imports import add_global_module, helper_source, import_file
from tokentrail.formats.panther.jsonpath import JSONPathError, compile_path
from tokentrail.formats.panther.keys import KNOWN_KEYS, MOCK_KEYS, TEST_KEYS
from tokentrail.formats.panther.lift import lift_rule
from tokentrail.formats.panther.logtypes import tokentrail_log_types
from tokentrail.formats.panther.outputs import output_fields_from_source
from tokentrail.formats.panther.simple import lower_simple_detection
from tokentrail.formats.panther.yaml12 import Document
from tokentrail.rules.ir import All, Expr, all_of
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import Correlation, Grouping, PythonLogic, Rule, RuleTest

_ATTACK = re.compile(r"^\s*(TA\d{4})\s*:\s*(T\d{4}(?:\.\d{3})?)\s*$")

NO_PYTHON = "python rules run only from paths given with -r"
SCHEDULED = "scheduled rules need a query backend"
CORRELATION = "this correlation rule cannot be lowered"
CORRELATION_TESTS_SKIPPED = "skipped, as pat test skips it without a Panther backend"
SIMPLE = "this Panther simple detection cannot be lowered"
DERIVED = "derived detections (BaseDetection) are not supported yet"
# Why a test of a simple detection TokenTrail cannot lower is skipped (pat test, without a
# Panther backend, skips every simple detection's tests).
SIMPLE_TESTS_SKIPPED = "skipped, as pat test skips it: a simple detection's tests run only in a Panther backend"
# The reason on a policy: its tests run, a scan never applies it.
POLICY = "unsupported-for-scan: Panther policies evaluate cloud resources, not log events"


class Item:
    """One analysis file being read: its data, and error helpers that point at its keys."""

    def __init__(self, path: Path, doc: Document) -> None:
        self.path = path
        self.file = str(path)
        self.doc = doc
        self.data: dict[str, Any] = doc.data

    def error(self, message: str, key: str | None = None) -> RuleLoadError:
        return RuleLoadError(message, file=self.file, line=self.doc.line(key) if key else None)

    def text(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(f"missing required key {key}")
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.error(
                f"{key} must be a non-empty string" if required else f"{key} must be a string", key
            )
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(f"{key} must be a list of strings", key)
        return tuple(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"{key} must be true or false, not {value!r}", key)
        return value

    def number(self, key: str, default: int, minimum: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(f"{key} must be a whole number >= {minimum}, not {value!r}", key)
        return value

    def python_file(self, *, required: bool) -> Path | None:
        name = self.data.get("Filename")
        if name is None and not required:
            return None
        if not isinstance(name, str) or not name.endswith(".py"):
            raise self.error("Filename must name a .py file", "Filename" if name is not None else None)
        file = (self.path.parent / name).resolve()
        if not file.is_file():
            raise self.error(f"Filename {name}: no such file next to the YAML", "Filename")
        return file


def check_keys(item: Item, analysis_type: str) -> None:
    """Unknown keys are errors: a typo must not silently switch a setting off."""
    allowed = KNOWN_KEYS[analysis_type]
    for key in item.data:
        if key not in allowed:
            raise item.error(f"unknown key {key!r} for AnalysisType {analysis_type}", str(key))


def severity_of(item: Item) -> str:
    value = item.text("Severity", required=True)
    if value.upper() not in SEVERITY_NAMES:
        raise item.error(
            f"Severity must be one of {', '.join(s.title() for s in SEVERITY_NAMES)}, not {value!r}",
            "Severity",
        )
    return value.lower()


def attack_ids(item: Item) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``(tactics, techniques, unread)`` from ``Reports: {MITRE ATT&CK: ["TA0006:T1528", ...]}``.

    Panther accepts any list under a framework name, so an entry that is not ``TAxxxx:Txxxx``
    (a typo such as ``TA003:T1556``) does not refuse the rule; it is returned in ``unread``.
    """
    reports = item.data.get("Reports") or {}
    if not isinstance(reports, Mapping):
        raise item.error("Reports must map a framework name to a list of ids", "Reports")
    entries = reports.get("MITRE ATT&CK") or []
    if not isinstance(entries, list):
        raise item.error("Reports: MITRE ATT&CK must be a list of TAxxxx:Txxxx ids", "Reports")
    tactics: list[str] = []
    techniques: list[str] = []
    unread: list[str] = []
    for entry in entries:
        m = _ATTACK.match(str(entry))
        if m is None:
            unread.append(str(entry))
            continue
        if m.group(1) not in tactics:
            tactics.append(m.group(1))
        if m.group(2) not in techniques:
            techniques.append(m.group(2))
    return tuple(tactics), tuple(techniques), tuple(unread)


def tests_of(item: Item, kind: str = "rule") -> tuple[RuleTest, ...]:
    """The item's ``Tests``; ``kind`` is rule, policy (``Resource`` instead of ``Log``) or
    correlation_rule (``RuleOutputs``: the matches of the correlated rules)."""
    raw = item.data.get("Tests")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise item.error("Tests must be a list", "Tests")
    allowed = TEST_KEYS[kind]
    data_key = {"rule": "Log", "policy": "Resource", "correlation_rule": "RuleOutputs"}[kind]
    tests: list[RuleTest] = []
    for number, test in enumerate(raw, 1):
        where = f"test {number}"
        if not isinstance(test, Mapping):
            raise item.error(f"{where} must be a mapping", "Tests")
        for key in test:
            if key not in allowed:
                raise item.error(f"unknown key {key!r} in {where}", "Tests")
        name = test.get("Name")
        if not isinstance(name, str) or not name:
            raise item.error(f"{where} needs a Name", "Tests")
        expected = test.get("ExpectedResult")
        if not isinstance(expected, bool):
            raise item.error(f"test {name!r}: ExpectedResult must be true or false", "Tests")
        data = test.get(data_key)
        if kind == "correlation_rule":
            if not isinstance(data, list) or not all(isinstance(o, Mapping) for o in data):
                raise item.error(f"test {name!r}: RuleOutputs must be a list of mappings", "Tests")
            tests.append(RuleTest(name=name, expected=expected, event={"RuleOutputs": data}))
            continue
        if not isinstance(data, Mapping):
            raise item.error(f"test {name!r}: {data_key} must be a mapping (the event)", "Tests")
        mocks = test.get("Mocks") or []
        if not isinstance(mocks, list) or not all(isinstance(m, Mapping) for m in mocks):
            raise item.error(f"test {name!r}: Mocks must be a list of mappings", "Tests")
        for mock in mocks:
            unknown = set(mock) - MOCK_KEYS
            if unknown:
                raise item.error(f"test {name!r}: unknown mock key {sorted(unknown)[0]!r}", "Tests")
            if not isinstance(mock.get("objectName"), str):
                raise item.error(f"test {name!r}: every mock needs an objectName", "Tests")
        tests.append(RuleTest(name=name, expected=expected, event=data, mocks=tuple(mocks)))
    return tuple(tests)


def _loader(spec: RuleSpec, registry: Registry) -> Callable[[], PantherDetection]:
    """``PythonLogic.load``: import the module on first call, then return the same detection."""
    loaded: list[PantherDetection] = []

    def load() -> PantherDetection:
        if not loaded:
            loaded.append(PantherDetection(spec, import_file(spec.python_file), registry))
        return loaded[0]

    return load


def _lift(source: str, analysis_type: str, inline: Expr | None) -> tuple[Expr | None, str | None]:
    """The rule's ``rule()`` as IR (with its inline filters), or why it cannot be."""
    if analysis_type != "rule":
        return None, f"a {analysis_type.replace('_', ' ')} is not lifted"
    result = lift_rule(source, modules=helper_source)
    if result.expr is None:
        return None, result.reason
    return (result.expr if inline is None else All((inline, result.expr))), None


def _simple_logic(item: Item, inline: Expr | None) -> tuple[Expr | None, str | None]:
    """A simple detection's ``Detection`` (after its inline filters) as IR, or why TokenTrail
    cannot run it; a malformed one is a load error."""
    try:
        expr = lower_simple_detection(item.data["Detection"], file=item.file, line=item.doc.line("Detection"))
    except UnsupportedFeature as exc:
        return None, f"{SIMPLE}: {exc.reason}"
    return (expr if inline is None else all_of(inline, expr)), None


def detection_rule(item: Item, analysis_type: str, context: LoadContext, registry: Registry) -> Rule:
    """A ``rule``, ``scheduled_rule`` or ``policy`` item."""
    check_keys(item, analysis_type)
    is_policy = analysis_type == "policy"
    rule_id = item.text("PolicyID" if is_policy else "RuleID", required=True)
    severity = severity_of(item)
    panther_types = () if is_policy else item.strings("LogTypes")
    if analysis_type == "rule" and not panther_types and "ScheduledQueries" not in item.data:
        raise item.error("a rule needs LogTypes", "LogTypes" if "LogTypes" in item.data else None)
    mapped, unmapped = tokentrail_log_types(panther_types)
    tactics, techniques, unread_ids = attack_ids(item)
    dedup_minutes = item.number("DedupPeriodMinutes", 60, 0)
    threshold = item.number("Threshold", 1, 1)
    reference = item.text("Reference")
    runbook = item.text("Runbook")
    description = item.text("Description")
    display_name = item.text("DisplayName")
    output_ids = item.strings("OutputIds")
    inline = None
    if item.data.get("InlineFilters") is not None:
        inline = lower_inline_filters(
            item.data["InlineFilters"], file=item.file, line=item.doc.line("InlineFilters")
        )
    derived = "BaseDetection" in item.data
    simple = "Detection" in item.data and "Filename" not in item.data
    python_file = None if simple or derived else item.python_file(required=True)
    output_fields: tuple = ()
    logic: PythonLogic | Expr | None = None
    unsupported: str | None = None
    if derived:
        unsupported = DERIVED
    elif simple:
        logic, unsupported = _simple_logic(item, inline)
    elif not context.allow_python:
        unsupported = NO_PYTHON
    else:
        assert python_file is not None
        source = python_file.read_text(encoding="utf-8", errors="replace")
        output_fields = output_fields_from_source(source)
        spec = RuleSpec(
            rule_id=rule_id,
            python_file=python_file,
            display_name=display_name,
            severity=severity,
            description=description,
            reference=reference,
            runbook=runbook,
            output_ids=output_ids,
            log_types=panther_types,
            only_panther_log_types=bool(panther_types) and not mapped,
            inline_filter=inline,
            analysis_type=analysis_type,
        )
        lifted, not_lifted = _lift(source, analysis_type, inline)
        logic = PythonLogic(path=str(python_file), load=_loader(spec, registry), lifted=lifted,
                            not_lifted=not_lifted)
        if analysis_type == "scheduled_rule":
            unsupported = SCHEDULED
        elif is_policy:
            unsupported = POLICY
    metadata: dict[str, Any] = {
        "analysis_type": analysis_type,
        "panther_log_types": panther_types,
        "unmapped_log_types": unmapped,
        "python_file": str(python_file) if python_file else None,
        "runbook": runbook,
        "dedup_period_minutes": dedup_minutes,
        "threshold": threshold,
        "summary_attributes": item.strings("SummaryAttributes"),
        "output_ids": output_ids,
        "group_by": item.strings("GroupBy") if "Detection" not in item.data else (),
        "reports": item.data.get("Reports") or {},
        "unread_attack_ids": unread_ids,
        "create_alert": item.flag("CreateAlert", True),
        "scheduled_queries": item.strings("ScheduledQueries"),
        "inline_filters": item.data.get("InlineFilters"),  # as written; lowered IR is on the spec
        "status": item.text("Status"),
    }
    if simple:
        # pat test (run_panther_tests) skips them all; TokenTrail runs those it lowered.
        metadata["pat_tests_skipped"] = SIMPLE_TESTS_SKIPPED
        if logic is None:
            metadata["tests_skipped"] = SIMPLE_TESTS_SKIPPED
    if is_policy:
        metadata["resource_types"] = item.strings("ResourceTypes")
    if derived:
        metadata["base_detection"] = item.text("BaseDetection")
    return Rule(
        id=rule_id,
        title=display_name or rule_id,
        format="panther",
        logic=logic,
        path=item.file,
        description=description,
        severity=severity,  # type: ignore[arg-type]
        tags=item.strings("Tags"),
        techniques=techniques,
        tactics=tactics,
        log_types=mapped,
        grouping=Grouping(window=dedup_minutes * 60.0 if dedup_minutes else None, threshold=threshold),
        output_fields=output_fields,
        references=(reference,) if reference else (),
        tests=tests_of(item, "policy" if is_policy else "rule"),
        metadata=metadata,
        enabled=item.flag("Enabled", True),
        unsupported=unsupported,
    )


def correlation_rule(item: Item) -> Rule:
    """A ``correlation_rule`` item: its ``Detection`` lowered to a ``Correlation`` over the rules
    it names (see ``correlation``); one TokenTrail cannot lower loads unsupported, with the reason,
    and its tests are skipped as pat test (without a Panther backend) skips them."""
    check_keys(item, "correlation_rule")
    rule_id = item.text("RuleID", required=True)
    tactics, techniques, unread_ids = attack_ids(item)
    reference = item.text("Reference")
    metadata: dict[str, Any] = {
        "analysis_type": "correlation_rule",
        "runbook": item.text("Runbook"),
        "detection": item.data.get("Detection"),
        "status": item.text("Status"),
        "unread_attack_ids": unread_ids,
    }
    logic: Correlation | None = None
    unsupported: str | None = None
    try:
        logic = lower_detection(item.data.get("Detection"))
    except NotDeclarative as exc:
        unsupported = f"{CORRELATION}: {exc}"
        metadata["tests_skipped"] = f"{CORRELATION_TESTS_SKIPPED} ({exc})"
    return Rule(
        id=rule_id,
        title=item.text("DisplayName") or rule_id,
        format="panther",
        logic=logic,
        path=item.file,
        description=item.text("Description"),
        severity=severity_of(item),  # type: ignore[arg-type]
        tags=item.strings("Tags"),
        techniques=techniques,
        tactics=tactics,
        references=(reference,) if reference else (),
        tests=tests_of(item, "correlation_rule"),
        metadata=metadata,
        enabled=item.flag("Enabled", True),
        unsupported=unsupported,
    )


def data_model(item: Item, registry: Registry) -> Rule:
    """A ``datamodel`` item: registered for ``udm()`` (when enabled) and listed as disabled."""
    check_keys(item, "datamodel")
    model_id = item.text("DataModelID", required=True)
    log_types = item.strings("LogTypes")
    if not log_types:
        raise item.error("a data model needs LogTypes", "LogTypes" if "LogTypes" in item.data else None)
    raw = item.data.get("Mappings")
    if not isinstance(raw, list) or not raw:
        raise item.error("a data model needs a list of Mappings", "Mappings" if raw is not None else None)
    fields: dict[str, ModelField] = {}
    for entry in raw:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("Name"), str):
            raise item.error("each mapping needs a Name", "Mappings")
        name = entry["Name"]
        extra = set(entry) - {"Name", "Path", "Method"}
        if extra:
            raise item.error(f"unknown key {sorted(extra)[0]!r} in mapping {name}", "Mappings")
        if ("Path" in entry) == ("Method" in entry):
            raise item.error(f"mapping {name} needs exactly one of Path and Method", "Mappings")
        if "Path" in entry:
            try:
                fields[name] = ModelField(name, path=compile_path(str(entry["Path"])))
            except JSONPathError as exc:
                raise item.error(f"mapping {name}: {exc}", "Mappings") from None
        else:
            fields[name] = ModelField(name, method=str(entry["Method"]))
    python_file = item.python_file(required=False)
    if any(f.method for f in fields.values()) and python_file is None:
        raise item.error("a data model with Method mappings needs a Filename")
    enabled = item.flag("Enabled", True)
    if enabled:
        registry.add(DataModel(model_id, log_types, fields, python_file))
    return Rule(
        id=model_id,
        title=item.text("DisplayName") or model_id,
        format="panther",
        logic=None,
        path=item.file,
        description=item.text("Description"),
        enabled=False,
        metadata={
            "analysis_type": "datamodel",
            "panther_log_types": log_types,
            "panther_enabled": enabled,
            "mappings": {n: (f.path.text if f.path else f"{f.method}()") for n, f in fields.items()},
        },
    )


def global_helper(item: Item) -> Rule:
    """A ``global`` item: its file becomes importable under its file name."""
    check_keys(item, "global")
    global_id = item.text("GlobalID", required=True)
    python_file = item.python_file(required=True)
    assert python_file is not None
    add_global_module(python_file.stem, python_file)
    return Rule(
        id=global_id,
        title=global_id,
        format="panther",
        logic=None,
        path=item.file,
        description=item.text("Description"),
        tags=item.strings("Tags"),
        enabled=False,
        metadata={"analysis_type": "global", "python_file": str(python_file), "module": python_file.stem},
    )


# Items that are neither detections nor helpers: the key naming each, and why it cannot run.
NOT_RUNNABLE: dict[str, tuple[str, str]] = {
    "pack": ("PackID", "a Panther pack only groups other items"),
    "saved_query": ("QueryName", "saved queries run in Panther's data lake"),
    "scheduled_query": ("QueryName", "scheduled queries run in Panther's data lake"),
    "scheduled_prompt": ("PromptName", "scheduled prompts run in Panther's AI service"),
    "lookup_table": ("LookupName", "lookup tables are Panther enrichment data, not detections"),
}


def not_runnable_item(item: Item, analysis_type: str) -> Rule:
    """A pack, query, prompt or lookup table: its keys checked, listed as disabled with the reason."""
    check_keys(item, analysis_type)
    id_key, reason = NOT_RUNNABLE[analysis_type]
    item_id = item.text(id_key, required=True)
    return Rule(
        id=item_id,
        title=item.text("DisplayName") or item_id,
        format="panther",
        logic=None,
        path=item.file,
        description=item.text("Description"),
        tags=item.strings("Tags"),
        enabled=False,
        unsupported=reason,
        metadata={"analysis_type": analysis_type},
    )
