"""Give an event's keys the spelling of its log type's field tree, whatever case they came in.

Panther's data lake stores Okta's top-level columns in lower case (``eventtype``,
``authenticationcontext``, ``debugcontext``) and keeps the nested keys as Okta wrote them; other
exports lower-case more. Rules name fields in Okta's own case. Rather than every field read
trying other spellings when the exact key is missing (a cost paid on every miss of every event),
an event that is not in canonical case is renamed once, when its log type is recognised: each
key that differs only in case from a field the log type's data file lists gets that field's
spelling. Keys the tree does not list are kept as written; so is a key whose canonical spelling
is already present (the exact key wins).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from tokentrail.schemas.registry import registry

KeyTree = Mapping[str, tuple[str, "KeyTree"]]  # key, canonical or lower-cased -> (canonical key, subtree)
_MISSING = object()


@cache
def key_tree(log_type: str) -> KeyTree:
    """The case-folding tree of a log type's known fields (empty when it lists none).

    A log type that strips an envelope prefix (``auth0.api`` has the stream's ``data.`` record at
    the top level) uses its family's fields under that prefix.
    """
    reg = registry()
    lt = reg.get(log_type)
    if lt is None:
        return {}
    paths: tuple[str, ...] = lt.known_fields
    if not paths and lt.strip_prefix:
        base = reg.get(lt.family)
        prefix = lt.strip_prefix
        paths = tuple(p[len(prefix):] for p in (base.known_fields if base else ()) if p.startswith(prefix))
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            entry = node.get(part.lower())
            if entry is None:
                # Keyed by the canonical spelling too, so canonical keys cost one lookup.
                entry = node[part.lower()] = node[part] = (part, {})
            node = entry[1]
    return tree


def fold_keys(event: Mapping[str, Any], log_type: str) -> Mapping[str, Any]:
    """``event`` with its keys spelled as ``log_type``'s field tree spells them.

    The event itself is returned when nothing needed renaming; otherwise a copy (objects on the
    way to a renamed key are copied too, the rest is shared).
    """
    tree = key_tree(log_type)
    return _fold(event, tree) if tree else event


def _fold(obj: Any, tree: KeyTree) -> Any:
    cls = obj.__class__
    if cls is list:
        items = [_fold(item, tree) for item in obj]
        return obj if all(a is b for a, b in zip(items, obj, strict=True)) else items
    if cls is not dict and not isinstance(obj, Mapping):
        return obj
    renamed: list[tuple[Any, Any]] | None = None
    for i, (key, value) in enumerate(obj.items()):
        entry = tree.get(key)
        if entry is None and (key.__class__ is not str or (entry := tree.get(key.lower())) is None):
            continue
        canonical, sub = entry
        if canonical != key and canonical in obj:
            canonical = key  # the exact spelling is there too: it is the field, this one stays apart
        folded = _fold(value, sub) if sub else value
        if canonical != key or folded is not value:
            if renamed is None:
                renamed = list(obj.items())
            renamed[i] = (canonical, folded)
    if renamed is None:
        return obj if cls is dict else dict(obj)
    return dict(renamed)


def get_folded(obj: Any, path: str) -> Any:
    """The value at a dotted ``path`` through nested objects, each key matched regardless of case
    (the exact key first); ``_MISSING`` when absent. Used to recognise non-canonical events."""
    for part in path.split("."):
        if not isinstance(obj, Mapping):
            return _MISSING
        value = obj.get(part, _MISSING)
        if value is _MISSING:
            low = part.lower()
            value = next((v for k, v in obj.items() if k.__class__ is str and k.lower() == low), _MISSING)
            if value is _MISSING:
                return _MISSING
        obj = value
    return obj


def has_folded(obj: Any, path: str) -> bool:
    """Whether ``path`` is present in ``obj`` with keys matched regardless of case."""
    return get_folded(obj, path) is not _MISSING
