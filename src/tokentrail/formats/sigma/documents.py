"""Read a Sigma YAML file into its documents, keeping where each one starts.

A Sigma file may hold several YAML documents: rules, correlations and filters, and the legacy
collection actions (``action: global`` sets a template merged into the rules that follow,
``action: reset`` clears it, ``action: repeat`` re-issues the previous rule with changes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from sigma.rule import SigmaYAMLLoader

from tokentrail.errors import RuleLoadError
from tokentrail.rules.yaml_bounds import check_alias_expansion


@dataclass(frozen=True)
class Document:
    """One YAML document of a rule file: its data, 1-based start line and parsed node."""

    data: dict[str, Any]
    line: int
    node: yaml.Node
    index: int


def read_documents(text: str, file: str) -> list[Document | RuleLoadError]:
    """Parse every document of ``text``; empty documents are dropped, actions applied.

    A document that cannot be used is an error in its place, so the others still load. A YAML
    syntax error ends the file: the documents before it are kept, the error comes last.
    """
    raw: list[tuple[yaml.Node, Any]] = []
    broken: RuleLoadError | None = None
    loader = SigmaYAMLLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            check_alias_expansion(node, file=file)
            raw.append((node, loader.construct_document(node)))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        broken = RuleLoadError(f"invalid YAML: {problem}", file=file, line=line)
    except RuleLoadError as exc:
        broken = exc
    finally:
        loader.dispose()
    out: list[Document | RuleLoadError] = list(_apply_actions(raw, file))
    if broken is not None:
        out.append(broken)
    return out


def _apply_actions(raw: list[tuple[yaml.Node, Any]], file: str) -> Iterator[Document | RuleLoadError]:
    template: dict[str, Any] = {}
    previous: dict[str, Any] | None = None
    for index, (node, data) in enumerate(raw):
        line = node.start_mark.line + 1
        if data is None:
            continue
        if not isinstance(data, dict):
            yield RuleLoadError("a Sigma document must be a YAML mapping", file=file, line=line)
            continue
        action = data.get("action")
        if action is None:
            if "correlation" in data or "filter" in data:
                yield Document(data, line, node, index)
                continue
            merged = merge(template, data)
            previous = merged
            yield Document(merged, line, node, index)
        elif action == "global":
            template = {k: v for k, v in data.items() if k != "action"}
            previous = template
        elif action == "reset":
            template = {}
        elif action == "repeat":
            if previous is None:
                yield RuleLoadError("'action: repeat' without a rule before it", file=file, line=line)
                continue
            previous = merge(previous, {k: v for k, v in data.items() if k != "action"})
            yield Document(previous, line, node, index)
        else:
            yield RuleLoadError(f"unknown Sigma collection action {action!r}", file=file, line=line)


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge: mappings merge key by key, anything else in ``update`` wins."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def plain(value: Any) -> Any:
    """YAML data as JSON-friendly Python data (dates become ISO strings)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def key_line(node: yaml.Node, want: Callable[[str], bool], *, path: tuple[str, ...] = ()) -> int | None:
    """1-based line of a mapping key matching ``want``: a direct key of ``path`` first, then any below."""
    start = _descend(node, path)
    if start is None:
        return None
    direct = [k for k, _ in start.value] if isinstance(start, yaml.MappingNode) else []
    for key_node in (*direct, *_keys(start)):
        if isinstance(key_node.value, str) and want(key_node.value):
            return key_node.start_mark.line + 1
    return None


def _descend(node: yaml.Node, path: tuple[str, ...]) -> yaml.Node | None:
    for part in path:
        if not isinstance(node, yaml.MappingNode):
            return None
        found = next((v for k, v in node.value if k.value == part), None)
        if found is None:
            return None
        node = found
    return node


def _keys(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield from _keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _keys(item)
