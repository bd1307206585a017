"""The JSONPath subset Panther data models use.

Supported: ``$`` root, ``.name`` / ``['name']`` / ``["name"]`` children, ``*`` / ``[*]`` every
child, ``[n]`` (negative too) indexes, ``..name`` / ``..*`` recursive descent. A path without a
leading ``$`` is read as a child path of the root (``actor.id`` is ``$.actor.id``). Filters
and scripts (``[?(...)]``, ``[(...)]``) and slices are rejected when the path is compiled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokentrail.formats.panther.event import MISSING, get_ci

_TOKEN = re.compile(
    r"""
      \.\.(?P<rname>[A-Za-z_@$][\w@$-]*|\*)      # ..name / ..*
    | \.(?P<name>[A-Za-z_@$][\w@$-]*|\*)          # .name / .*
    | \[\s*(?P<q>['"])(?P<qname>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*\]   # ['name']
    | \[\s*(?P<index>-?\d+)\s*\]                  # [3]
    | \[\s*\*\s*\]                                # [*]
    """,
    re.VERBOSE,
)


class JSONPathError(ValueError):
    """A path outside the supported subset, or malformed."""


@dataclass(frozen=True, slots=True)
class _Step:
    kind: str  # "child", "wild", "index", "descend", "descend_wild"
    key: Any = None


@dataclass(frozen=True, slots=True)
class JSONPath:
    """A compiled path; ``find`` returns every value it reaches, in document order."""

    text: str
    steps: tuple[_Step, ...]

    def find(self, data: Any) -> list[Any]:
        nodes = [data]
        for step in self.steps:
            nodes = [out for node in nodes for out in _apply(step, node)]
            if not nodes:
                break
        return nodes


def compile_path(text: str) -> JSONPath:
    """Compile ``text``; raises ``JSONPathError`` naming the unsupported part."""
    path = text.strip()
    if not path:
        raise JSONPathError("empty path")
    if path.startswith("$"):
        rest = path[1:]
    elif path.startswith("["):
        rest = path
    else:
        rest = "." + path
    steps: list[_Step] = []
    pos = 0
    while pos < len(rest):
        m = _TOKEN.match(rest, pos)
        if m is None:
            raise JSONPathError(f"unsupported JSONPath syntax at {rest[pos:]!r} in {text!r}")
        if m.group("rname") is not None:
            name = m.group("rname")
            steps.append(_Step("descend_wild") if name == "*" else _Step("descend", name))
        elif m.group("name") is not None:
            name = m.group("name")
            steps.append(_Step("wild") if name == "*" else _Step("child", name))
        elif m.group("qname") is not None:
            steps.append(_Step("child", re.sub(r"\\(.)", r"\1", m.group("qname"))))
        elif m.group("index") is not None:
            steps.append(_Step("index", int(m.group("index"))))
        else:
            steps.append(_Step("wild"))
        pos = m.end()
    return JSONPath(text, tuple(steps))


def _children(node: Any) -> list[Any]:
    if isinstance(node, Mapping):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


def _descendants(node: Any) -> list[Any]:
    """``node`` and everything under it, depth first, in document order."""
    out = [node]
    for child in _children(node):
        out.extend(_descendants(child))
    return out


def _apply(step: _Step, node: Any) -> list[Any]:
    if step.kind == "child":
        if isinstance(node, Mapping):
            value = get_ci(node, step.key)
            return [] if value is MISSING else [value]
        return []
    if step.kind == "wild":
        return _children(node)
    if step.kind == "index":
        if isinstance(node, list) and -len(node) <= step.key < len(node):
            return [node[step.key]]
        return []
    found: list[Any] = []
    for sub in _descendants(node):
        if step.kind == "descend_wild":
            found.extend(_children(sub))
        elif isinstance(sub, Mapping):
            value = get_ci(sub, step.key)
            if value is not MISSING:
                found.append(value)
    return found
