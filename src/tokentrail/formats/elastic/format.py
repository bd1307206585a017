"""The Elastic rule front-end: detection-rules TOML files and Kibana rule exports (NDJSON/JSON)."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from tokentrail.errors import RuleLoadError, TokenTrailError, UnsupportedFeature
from tokentrail.formats.elastic.builder import build_rule
from tokentrail.formats.elastic.diagnostics import QueryPosition
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import Rule, RuleTest
from tokentrail.rules.yaml_bounds import safe_load_bounded
from tokentrail.surrogates import json_safe

_RULE_TABLE = re.compile(r"^\s*\[rule(?:\.[\w.]+)?\]\s*$|^\s*\[\[rule\.threat\]\]\s*$", re.M)
_TABLE_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_QUERY_KEY = re.compile(r"""^\s*(?:query|"query")\s*=\s*(.*)$""")


class ElasticFormat:
    """Loads Elastic detection rules (``.toml``) and Kibana saved-object exports."""

    name = "elastic"

    def claims(self, path: Path, head: str) -> bool:
        """TOML with a ``[rule]`` table; NDJSON/JSON whose objects carry ``rule_id`` and a type."""
        suffix = path.suffix.lower()
        if suffix == ".toml":
            return bool(_RULE_TABLE.search(head))
        if suffix in (".ndjson", ".json"):
            start = head.lstrip()[:1]
            return start in ("{", "[") and '"rule_id"' in head and ('"type"' in head or '"query"' in head)
        return False

    def load(self, path: Path, context: LoadContext) -> list[Rule]:
        """Every rule in ``path``; raise ``RuleLoadError`` when the file cannot be read."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleLoadError(f"cannot read: {exc}", file=str(path)) from None
        if path.suffix.lower() == ".toml":
            return [load_toml_rule(text, path)]
        return load_kibana_export(text, path)


def load_toml_rule(text: str, path: Path) -> Rule:
    """One rule from detection-rules TOML text (``[metadata]`` + ``[rule]``), with sidecar tests."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise RuleLoadError(f"invalid TOML: {exc}", file=str(path),
                            line=int(line.group(1)) if line else None) from None
    rule = doc.get("rule")
    if not isinstance(rule, Mapping):
        raise RuleLoadError("no [rule] table", file=str(path))
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise RuleLoadError("[metadata] must be a table", file=str(path))
    position = QueryPosition(str(path), query_first_line(text))
    return build_rule(rule, path=str(path), position=position, file_metadata=metadata,
                      tests=load_sidecar_tests(path))


def query_first_line(text: str) -> int | None:
    """The file line where the ``query`` of the ``[rule]`` table begins (its text, not its key)."""
    table = ""
    open_string: str | None = None  # the delimiter of a multi-line string being skipped
    for number, line in enumerate(text.splitlines(), start=1):
        if open_string is not None:
            if open_string in line:
                open_string = None
            continue
        header = _TABLE_HEADER.match(line)
        if header:
            table = header.group(1)
            continue
        key = _QUERY_KEY.match(line)
        if key and table == "rule":
            # A multi-line string whose opening quotes end the line starts on the next line.
            return number + 1 if key.group(1).strip() in ("'''", '"""') else number
        for delimiter in ("'''", '"""'):
            if line.count(delimiter) % 2 == 1:
                open_string = delimiter
                break
    return None


def load_kibana_export(text: str, path: Path) -> list[Rule]:
    """Rules of a Kibana export: NDJSON saved objects, or a JSON object or list of them.

    Objects without ``rule_id`` (export summaries, exception lists) are skipped. A rule that
    cannot be built loads as unsupported with the reason, so one bad rule does not hide the rest.
    Lone surrogates (JSON escapes with no partner) become U+FFFD.
    """
    rules: list[Rule] = []
    for line, obj in _json_objects(text, path):
        if not isinstance(obj, Mapping) or "rule_id" not in obj:
            continue
        obj = json_safe(obj)  # a "\ud800" escape would otherwise reach every output
        position = QueryPosition(str(path), line, one_line=line is not None)
        try:
            rules.append(build_rule(obj, path=str(path), position=position))
        except TokenTrailError as exc:
            rules.append(_broken_rule(obj, path, exc))
    return rules


def _json_objects(text: str, path: Path) -> Iterator[tuple[int | None, Any]]:
    stripped = text.strip()
    if not stripped:
        return
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
    else:
        if isinstance(whole, list):
            yield from ((None, item) for item in whole)
        else:
            yield (1 if "\n" not in stripped else None), whole
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise RuleLoadError(f"invalid JSON at column {exc.colno}: {exc.msg}", file=str(path),
                                line=number) from None


def _broken_rule(obj: Mapping[str, Any], path: Path, exc: TokenTrailError) -> Rule:
    name = obj.get("name")
    return Rule(
        id=str(obj.get("rule_id")),
        title=name if isinstance(name, str) and name else str(obj.get("rule_id")),
        format="elastic",
        logic=None,
        path=str(path),
        metadata={"field_dialect": "ecs", "load_error": str(exc),
                  "rule_type": str(obj.get("type") or "query")},
        unsupported=_load_failure(exc),
    )


def _load_failure(exc: TokenTrailError) -> str:
    """Why a rule of an export did not load, without the file (the rule names it) and without
    a second "unsupported" (its status says so)."""
    detail = exc.reason if isinstance(exc, UnsupportedFeature) else exc.message
    return f"cannot load: {detail}" + (f" (file line {exc.line})" if exc.line else "")


def sidecar_path(path: Path) -> Path:
    """Where the tests of rule file ``x.toml`` live: ``x.tests.yml`` beside it."""
    return path.with_name(path.stem + ".tests.yml")


def load_sidecar_tests(path: Path) -> tuple[RuleTest, ...]:
    """Tests from the rule's sidecar (a YAML list of ``{name, expected, event}``), if it has one."""
    sidecar = sidecar_path(path)
    if not sidecar.exists():
        return ()
    try:
        data = safe_load_bounded(sidecar.read_text(encoding="utf-8"), file=str(sidecar))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RuleLoadError(f"cannot read rule tests: {exc}".splitlines()[0], file=str(sidecar),
                            line=mark.line + 1 if mark else None) from None
    if data is None:
        return ()
    if not isinstance(data, list):
        raise RuleLoadError("rule tests must be a YAML list", file=str(sidecar))
    tests: list[RuleTest] = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, Mapping):
            raise RuleLoadError(f"test {n} must be a mapping", file=str(sidecar))
        name, expected, event = item.get("name"), item.get("expected"), item.get("event")
        if not isinstance(name, str) or not isinstance(expected, bool) or not isinstance(event, Mapping):
            raise RuleLoadError(f"test {n} needs name (text), expected (true/false) and event (mapping)",
                                file=str(sidecar))
        mocks = item.get("mocks") or ()
        tests.append(RuleTest(name=name, expected=expected, event=event,
                              mocks=tuple(mocks) if isinstance(mocks, list) else ()))
    return tuple(tests)
