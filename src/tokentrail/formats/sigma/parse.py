"""Turn one Sigma YAML document into pySigma objects, reporting problems as TokenTrail errors.

pySigma does the spec work (modifiers, wildcards, condition grammar, correlation and filter
schemas); this module makes its regex check match TokenTrail's runtime (RE2, then the fallback
engine), rejects modifiers TokenTrail cannot run before pySigma sees them, and turns pySigma's
errors into ``RuleLoadError``/``UnsupportedFeature`` with a file and line.

pySigma is pinned to 1.5.x (its SIEM backends need pySigma < 2); ``compat`` adapts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaIdentifierError
from sigma.filters import SigmaFilter
from sigma.modifiers import modifier_mapping
from sigma.rule import SigmaRule

from tokentrail.errors import RuleLoadError, UnsupportedFeature
from tokentrail.formats.sigma import compat
from tokentrail.formats.sigma.documents import Document, key_line

# pySigma modifiers with no IR equivalent (they compare parts of timestamps).
UNSUPPORTED_MODIFIERS = frozenset({"minute", "hour", "day", "week", "month", "year"})

# Sigma 2 modifier names pySigma knows by another name.
MODIFIER_ALIASES = {"utf16le": "wide"}

# pySigma error class name fragments -> the top-level key the error is about.
_ERROR_KEYS = (
    ("Logsource", "logsource"), ("Level", "level"), ("Status", "status"), ("Tag", "tags"),
    ("Title", "title"), ("Modified", "modified"), ("Date", "date"), ("Related", "related"),
    ("Timespan", "correlation"), ("Correlation", "correlation"), ("Filter", "filter"),
    ("Fields", "fields"), ("FalsePositives", "falsepositives"), ("References", "references"),
)


compat.install()

Parsed = TypeVar("Parsed", SigmaRule, SigmaCorrelationRule, SigmaFilter)


def parse_document(cls: type[Parsed], doc: Document, file: str) -> Parsed:
    """Parse ``doc`` with pySigma class ``cls``; raise the first problem found as our error."""
    section = {SigmaRule: "detection", SigmaFilter: "filter"}.get(cls)
    if section is not None:
        check_modifiers(doc, section, file)
        check_values(doc, section, file)
    data = {k: v for k, v in doc.data.items() if k != "tests"}
    if section is not None and section in data:
        try:
            data[section] = _rename_modifiers(data[section])
        except RuleLoadError as exc:
            exc.file, exc.line = file, key_line(doc.node, lambda k: k == section) or doc.line
            raise
    try:
        try:
            parsed = cls.from_dict(data, collect_errors=True)
        except UnboundLocalError:
            # pySigma 1.5 collects a correlation's condition error, then reads the condition it
            # did not set; parsed again without collecting, the first error is raised instead.
            # The id is left out: it need not be a UUID here (see below).
            parsed = cls.from_dict({k: v for k, v in data.items() if k != "id"}, collect_errors=False)
    except SigmaError as exc:
        raise to_error(exc, doc, file) from None
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        # pySigma assumes well-typed YAML in places (e.g. string keys); report, don't crash.
        raise RuleLoadError(f"malformed Sigma {section or 'correlation'}: {exc}", file=file,
                            line=key_line(doc.node, lambda k: k == (section or "correlation")) or doc.line
                            ) from None
    # Rule ids need not be UUIDs here: in-house rules often use readable ids.
    problems = [e for e in parsed.errors if not isinstance(e, SigmaIdentifierError)]
    if problems:
        raise to_error(problems[0], doc, file)
    return parsed


def check_modifiers(doc: Document, section: str, file: str) -> None:
    """Reject unknown or unsupported modifiers, naming the line of the key that uses them."""
    body = doc.data.get(section)
    if not isinstance(body, Mapping):
        return
    for key in _detection_keys(body):
        for modifier in key.split("|")[1:]:
            modifier = MODIFIER_ALIASES.get(modifier, modifier)
            if modifier in modifier_mapping and modifier not in UNSUPPORTED_MODIFIERS:
                continue
            line = key_line(doc.node, lambda k, key=key: k == key, path=(section,)) or doc.line
            raise UnsupportedFeature(f"sigma modifier '{modifier}'", file=file, line=line,
                                     detail=f"in {key!r}")


def check_values(doc: Document, section: str, file: str) -> None:
    """Reject a field whose value is a YAML mapping, saying why it most likely is one.

    An unquoted ``{placeholder}`` (common in published rules meant to be filled in) reads as a
    mapping; pySigma's own message for it names only a Python type.
    """
    body = doc.data.get(section)
    if not isinstance(body, Mapping):
        return
    for name, item in body.items():
        for selection in item if isinstance(item, list) else [item]:
            if not isinstance(selection, Mapping):
                continue
            for key, value in selection.items():
                values = value if isinstance(value, list) else [value]
                bad = next((v for v in values if isinstance(v, Mapping)), None)
                if bad is None:
                    continue
                line = key_line(doc.node, lambda k, key=key: k == key, path=(section, str(name))) \
                    or doc.line
                shown = "{" + ", ".join(map(str, bad)) + "}"
                raise RuleLoadError(f"{section} item {name!r}: the value of {key!r} is a YAML mapping "
                                    f"({shown}), not a value; quote it if it is text", file=file, line=line)


def _rename_modifiers(body: Any) -> Any:
    """Modifier aliases renamed; numbers given to ``|re`` read as pattern text."""
    if isinstance(body, Mapping):
        out = {}
        for key, value in body.items():
            if isinstance(key, str):
                if "re" in key.split("|")[1:]:
                    value = _regex_text(value)
                key = _renamed_key(key)
            out[key] = _rename_modifiers(value)
        return out
    if isinstance(body, list):
        return [_rename_modifiers(v) for v in body]
    return body


def _regex_text(value: Any) -> Any:
    if isinstance(value, list):
        return [_regex_text(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise RuleLoadError(f"a regular expression must be text, not {value!r}")
    return value


def _renamed_key(key: str) -> str:
    field, *modifiers = key.split("|")
    return "|".join([field, *(MODIFIER_ALIASES.get(m, m) for m in modifiers)])


def _detection_keys(body: Any):
    if isinstance(body, Mapping):
        for key, value in body.items():
            if isinstance(key, str):
                yield key
            yield from _detection_keys(value)
    elif isinstance(body, list):
        for item in body:
            yield from _detection_keys(item)


def to_error(exc: SigmaError, doc: Document, file: str) -> RuleLoadError:
    """A pySigma error as a ``RuleLoadError`` located at the key it is about."""
    name = type(exc).__name__
    message = str(exc.args[0]) if exc.args else name
    # pySigma raises SigmaModifiedError for modifier problems too (not only the ``modified`` date).
    key = None if "modifier" in message.lower() else next((k for frag, k in _ERROR_KEYS if frag in name), None)
    if key is None:
        key = "correlation" if "correlation" in doc.data else "filter" if "filter" in doc.data else "detection"
    line = key_line(doc.node, lambda k: k == key) or doc.line
    return RuleLoadError(message, file=file, line=line)
