"""Bound what YAML aliases can make of a small rule file.

An alias re-uses an anchored node, so ten levels of nine aliases each ("billion laughs") turn a
500-byte file into 10⁹ values: building them exhausts memory, and walking the shared structure
never ends. Rule files are checked on the composed node graph, before any Python data is built:
aliases may add at most ``MAX_ALIAS_NODES`` nodes to what the file itself spells out, and an
alias may not contain itself.
"""

from __future__ import annotations

from typing import Any

import yaml

from tokentrail.errors import RuleLoadError

# Sigma and Panther files use aliases rarely and lightly; this leaves room for that.
MAX_ALIAS_NODES = 100_000

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when PyYAML has it


def check_alias_expansion(node: yaml.Node, *, file: str | None = None,
                          limit: int = MAX_ALIAS_NODES) -> None:
    """Raise ``RuleLoadError`` when ``node`` with its aliases expanded exceeds the bound.

    The bound is the number of distinct nodes plus ``limit``; a file without aliases always passes.
    Runs in time linear in the distinct nodes (each node's expanded size is computed once).
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    line = node.start_mark.line + 1
    # Iterative post-order walk: a deep document must not hit Python's recursion limit.
    stack: list[tuple[yaml.Node, Any]] = [(node, iter(_children(node)))]
    on_path.add(id(node))
    while stack:
        current, pending = stack[-1]
        child = next(pending, None)
        if child is None:
            stack.pop()
            on_path.discard(id(current))
            sizes[id(current)] = 1 + sum(sizes[id(c)] for c in _children(current))
            if sizes[id(current)] > len(sizes) + limit:
                raise RuleLoadError(
                    f"YAML aliases expand this document beyond {limit:,} extra values",
                    file=file, line=line)
            continue
        if id(child) in on_path:
            raise RuleLoadError("a YAML alias refers to a node that contains it",
                                file=file, line=child.start_mark.line + 1)
        if id(child) not in sizes:
            on_path.add(id(child))
            stack.append((child, iter(_children(child))))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def safe_load_bounded(text: str, *, file: str | None = None) -> Any:
    """``yaml.safe_load`` of one document, with the alias bound checked before construction.

    YAML syntax errors propagate as ``yaml.YAMLError`` for the caller to report.
    """
    loader = _SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_alias_expansion(node, file=file)
        return loader.construct_document(node)
    finally:
        loader.dispose()
