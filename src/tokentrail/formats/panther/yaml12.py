"""YAML with the 1.2 core schema, as Panther reads its analysis files.

Under YAML 1.1 (PyYAML's default) ``off``/``yes`` become booleans, ``2024-01-30`` a date and
``010`` the octal 8; Panther's files are written for 1.2, where those stay strings (and ``010``
is 10). We keep libyaml's fast parser and swap in the 1.2 core resolvers and constructors.
The top-level mapping's key lines are kept so load errors can point at a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from tokentrail.errors import RuleLoadError
from tokentrail.rules.yaml_bounds import check_alias_expansion

# libyaml's parser when PyYAML was built with it (10x faster); else the pure-Python stages.
_FAST = bool(getattr(yaml, "__with_libyaml__", False))
_PARSER_BASES: tuple[type, ...] = (
    (yaml.cyaml.CParser,)
    if _FAST
    else (yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer)
)


class _CoreResolver(yaml.resolver.BaseResolver):
    """Resolves plain scalars by the YAML 1.2 core schema only."""


_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


class _CoreConstructor(yaml.constructor.SafeConstructor):
    """Safe constructor with 1.2 number rules and duplicate-key detection."""

    def construct_yaml_int(self, node: yaml.Node) -> int:
        text = self.construct_scalar(node)
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)

    def construct_yaml_float(self, node: yaml.Node) -> float:
        text = self.construct_scalar(node).lower()
        if text.endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        if text == ".nan":
            return float("nan")
        return float(text)

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        # Compare the keys' source text: cheap, and enough for the plain keys rule files use.
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if len(set(keys)) != len(keys):
            seen: set[str] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                        )
                    seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


_CoreConstructor.add_constructor("tag:yaml.org,2002:int", _CoreConstructor.construct_yaml_int)
_CoreConstructor.add_constructor("tag:yaml.org,2002:float", _CoreConstructor.construct_yaml_float)
# 1.2 has no timestamp type; an explicit !!timestamp tag stays the string it was written as.
_CoreConstructor.add_constructor("tag:yaml.org,2002:timestamp", _CoreConstructor.construct_yaml_str)


class CoreLoader(*_PARSER_BASES, _CoreConstructor, _CoreResolver):  # type: ignore[misc]
    """YAML 1.2 core-schema loader over libyaml's parser (or PyYAML's pure-Python one)."""

    def __init__(self, stream: str) -> None:
        if _FAST:
            yaml.cyaml.CParser.__init__(self, stream)
        else:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
        _CoreConstructor.__init__(self)
        _CoreResolver.__init__(self)


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class _Unusual(Exception):
    """A node the direct conversion does not handle (explicit tags): use PyYAML's constructor."""


def _to_python(node: yaml.Node, scalars: dict[str, Any]) -> Any:
    """The value of a composed node, for the tags the core schema resolves (``construct_document``
    does the same through generic, generator-based machinery, several times slower)."""
    tag = node.tag
    if tag == _STR:
        return node.value
    if tag == _MAP:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _to_python(key_node, scalars)
            try:
                if key in out:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "found unhashable key", key_node.start_mark
                ) from None
            out[key] = _to_python(value_node, scalars)
        return out
    if tag == _SEQ:
        return [_to_python(item, scalars) for item in node.value]
    convert = scalars.get(tag)
    if convert is None or not isinstance(node, yaml.ScalarNode):
        raise _Unusual(tag)
    return convert(node)


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded YAML document and the 1-based line of each top-level key."""

    data: Any
    key_lines: dict[str, int]

    def line(self, key: str) -> int | None:
        return self.key_lines.get(key)


def _scalar_constructors(loader: CoreLoader) -> dict[str, Any]:
    return {
        "tag:yaml.org,2002:null": lambda node: None,
        "tag:yaml.org,2002:bool": lambda node: node.value.lower() == "true",
        "tag:yaml.org,2002:int": loader.construct_yaml_int,
        "tag:yaml.org,2002:float": loader.construct_yaml_float,
        "tag:yaml.org,2002:timestamp": lambda node: node.value,
    }


def load_document(text: str, *, file: str | None = None) -> Document:
    """Parse one YAML document with the 1.2 core schema; syntax errors become ``RuleLoadError``."""
    loader = CoreLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, {})
        check_alias_expansion(node, file=file)
        try:
            data = _to_python(node, _scalar_constructors(loader))
        except _Unusual:
            data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise RuleLoadError(f"YAML error: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise RuleLoadError(f"YAML error: {exc}", file=file) from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                lines[key_node.value] = key_node.start_mark.line + 1
    return Document(data, lines)
