"""A rule's output fields, read statically from its ``alert_context`` function.

The keys of the dict ``alert_context`` returns are the alert's fields. We read them from the
source without running it: dict literals that are returned (directly or through a variable),
plus ``ctx["key"] = ...`` assignments to that variable. When a value is a plain event read
(``event.get("a")``, ``event["a"]``, ``event.deep_get("a", "b")``, ``deep_get(event, "a", "b")``,
``event.udm("a")``) the field is that path; otherwise the key itself.
"""

from __future__ import annotations

import ast
import re

from tokentrail.rules.model import OutputField


def output_fields_from_source(source: str) -> tuple[OutputField, ...]:
    """Output fields of the ``alert_context`` function in ``source`` (empty when there is none
    or it is built dynamically). Never raises on bad source: the import will report that."""
    if "def alert_context" not in source:
        return ()
    tree = _parse(_function_source(source)) or _parse(source)
    if tree is None:
        return ()
    func = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "alert_context"), None)
    if func is None:
        return ()
    event_name = func.args.args[0].arg if func.args.args else "event"
    returned = {
        n.value.id for n in ast.walk(func) if isinstance(n, ast.Return) and isinstance(n.value, ast.Name)
    }
    fields: dict[str, str] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            _add_dict(node.value, event_name, fields)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in returned for t in node.targets
        ):
            if isinstance(node.value, ast.Dict):
                _add_dict(node.value, event_name, fields)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id in returned
                    and _const_str(target.slice) is not None
                ):
                    key = _const_str(target.slice)
                    fields.setdefault(key, _event_path(node.value, event_name) or key)  # type: ignore[arg-type]
    return tuple(OutputField(label=k, field=v) for k, v in fields.items())


_DEF = re.compile(r"^def alert_context\b", re.MULTILINE)
_TOP_LEVEL = re.compile(r"^[^\s#)]", re.MULTILINE)


def _function_source(source: str) -> str:
    """Just the ``alert_context`` definition: parsing one function is far cheaper than a module."""
    start = _DEF.search(source)
    if start is None:
        return ""
    end = _TOP_LEVEL.search(source, start.end())
    return source[start.start() : end.start() if end else len(source)]


def _parse(source: str) -> ast.Module | None:
    if not source:
        return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _add_dict(node: ast.Dict, event_name: str, fields: dict[str, str]) -> None:
    for key_node, value in zip(node.keys, node.values, strict=True):
        key = _const_str(key_node) if key_node is not None else None
        if key is not None:
            fields.setdefault(key, _event_path(value, event_name) or key)


def _const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _event_path(node: ast.AST, event_name: str) -> str | None:
    """The dotted event path a value expression reads, when it is a plain read."""
    if isinstance(node, ast.Subscript) and _is_name(node.value, event_name):
        return _const_str(node.slice)
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    args = node.args
    if isinstance(func, ast.Attribute) and _is_name(func.value, event_name):
        if func.attr in ("get", "udm") and args:
            return _const_str(args[0])
        if func.attr in ("deep_get", "deep_walk"):
            parts = [_const_str(a) for a in args]
            return ".".join(parts) if parts and None not in parts else None  # type: ignore[arg-type]
    if (
        isinstance(func, ast.Name)
        and func.id in ("deep_get", "deep_walk")
        and args
        and _is_name(args[0], event_name)
    ):
        parts = [_const_str(a) for a in args[1:]]
        return ".".join(parts) if parts and None not in parts else None  # type: ignore[arg-type]
    return None


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name
