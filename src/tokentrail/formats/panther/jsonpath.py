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
        return [value for _, value in self.find_located(data)]

    def find_located(self, data: Any) -> list[tuple[tuple[Any, ...], Any]]:
        """Every value reached, with the keys and indexes that lead to it from the root."""
        nodes: list[tuple[tuple[Any, ...], Any]] = [((), data)]
        for step in self.steps:
            nodes = [(where + sub, out) for where, node in nodes for sub, out in _apply(step, node)]
            if not nodes:
                break
        return nodes


def path_text(where: tuple[Any, ...]) -> str:
    """A located value's path as Panther's ``udm_path`` prints it: ``client.ipAddress``,
    ``items.[0].id``."""
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in where)


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


def _children(node: Any) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, Mapping):
        return [((k,), v) for k, v in node.items()]
    if isinstance(node, list):
        return [((i,), v) for i, v in enumerate(node)]
    return []


def _descendants(node: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """``node`` and everything under it, depth first, in document order, each with its path."""
    out: list[tuple[tuple[Any, ...], Any]] = [((), node)]
    for where, child in _children(node):
        out.extend((where + sub, value) for sub, value in _descendants(child))
    return out


def _child(node: Any, key: Any) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, Mapping):
        value = get_ci(node, key)
        if value is MISSING:
            return []
        actual = (
            key if key in node else next(k for k in node if isinstance(k, str) and k.lower() == key.lower())
        )
        return [((actual,), value)]
    return []


def _apply(step: _Step, node: Any) -> list[tuple[tuple[Any, ...], Any]]:
    if step.kind == "child":
        return _child(node, step.key)
    if step.kind == "wild":
        return _children(node)
    if step.kind == "index":
        if isinstance(node, list) and -len(node) <= step.key < len(node):
            return [((step.key % len(node),), node[step.key])]
        return []
    found: list[tuple[tuple[Any, ...], Any]] = []
    for where, sub in _descendants(node):
        if step.kind == "descend_wild":
            found.extend((where + k, v) for k, v in _children(sub))
        else:
            found.extend((where + k, v) for k, v in _child(sub, step.key))
    return found
