"""Decode only the named fields of a JSON line, validating the rest without building it.

``msgspec`` decodes a JSON document into a ``Struct`` type: keys the type names are decoded (a
string field to a ``str``, a presence-only field to a ``msgspec.Raw`` slice of the line, a nested
object to a nested struct), every other key and its value is checked for JSON syntax and skipped,
so a line costs a handful of small objects instead of one per value. Of duplicate keys the last
wins, as with ``orjson``. What the skipping does not check (the UTF-8 of skipped strings, a number
past the double range, nesting depth against orjson's limit) is ``jsonguard``'s part.

``LineFields`` gives the decoder and, for the generated code of the fast path, the source of an
expression on the decoded ``doc`` for each path: whether it is present, and its string value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

UNSET = msgspec.UNSET
# The default of a presence-only field: an absent key leaves this very object in place.
ABSENT = msgspec.Raw(b"")

Path = tuple[str, ...]


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    value: bool = False  # read as a string (else only tested for presence, or a nested object)


@dataclass(frozen=True)
class LineFields:
    """A decoder for ``paths`` and source expressions over its result (named ``doc``)."""

    decode: Callable[[bytes], Any]  # raises msgspec.DecodeError (and RecursionError when deep)
    _attrs: dict[Path, str]  # path -> attribute chain ("doc.f0.f2")
    _kinds: dict[Path, str]  # path -> "value", "present" or "object"

    def present(self, path: Path) -> str:
        """Source that is true when the key at ``path`` is in the line (through nested objects).

        A truth test where it is exact, as it costs less than ``is not``: an absent presence-only
        field is the empty ``ABSENT`` slice (a present value's slice never is empty), an absent
        object is ``UNSET`` (false; a struct is true); a string field is compared with ``UNSET``,
        since an empty string is a present key."""
        steps = [path[:i] for i in range(1, len(path) + 1)]
        return "(" + " and ".join(self._attrs[p] if self._kinds[p] != "value" else f"{self._attrs[p]} is not UNSET"
                                  for p in steps) + ")"

    def value(self, path: Path) -> str | None:
        """Source giving the string at ``path`` (``UNSET``, not a ``str``, when absent); None when
        ``path`` cannot be read as a string here (it also leads to a nested key)."""
        if self._kinds.get(path) != "value":
            return None
        # An object on the way is a struct (true) or UNSET, which ``and`` then gives.
        return "(" + " and ".join(self._attrs[path[:i]] for i in range(1, len(path) + 1)) + ")"


def line_fields(present: Iterable[Path], values: Iterable[Path]) -> LineFields:
    """The decoder reading the keys of ``present`` (presence only) and ``values`` (strings); a
    line whose value at a ``values`` path is not a string, or whose value on the way to a
    nested path is not an object, fails to decode (the caller takes it the plain way)."""
    root = _Node()
    for path, is_value in [*((p, False) for p in present), *((p, True) for p in values)]:
        node = root
        for part in path:
            node = node.children.setdefault(part, _Node())
        node.value = node.value or is_value
    attrs: dict[Path, str] = {}
    kinds: dict[Path, str] = {}
    struct = _struct(root, (), "doc", attrs, kinds)
    decoder = msgspec.json.Decoder(struct)
    return LineFields(decoder.decode, attrs, kinds)


def _struct(node: _Node, path: Path, attr: str, attrs: dict[Path, str], kinds: dict[Path, str]) -> type:
    fields: list[tuple[str, Any, Any]] = []
    for n, (key, child) in enumerate(node.children.items()):
        name, sub, sub_attr = f"f{n}", (*path, key), f"{attr}.f{n}"
        attrs[sub] = sub_attr
        if child.children:
            # A key that leads to nested keys is decoded as an object, never read as a string.
            kinds[sub] = "object"
            kind: Any = _struct(child, sub, sub_attr, attrs, kinds) | msgspec.UnsetType
            default: Any = UNSET
        elif child.value:
            kinds[sub], kind, default = "value", str | msgspec.UnsetType, UNSET
        else:
            kinds[sub], kind, default = "present", msgspec.Raw, ABSENT
        fields.append((name, kind, msgspec.field(default=default, name=key)))
    # No instance refers to another in a cycle: the collector need not track them.
    return msgspec.defstruct("Line", fields, gc=False)
