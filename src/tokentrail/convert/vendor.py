"""The vendors' own log searches, written from the IR: no SIEM needed to look a rule's events up.

* ``okta``: the System Log API's ``filter`` expression (``eventType eq "user.session.start"``),
  with ``eq``, ``sw`` (starts with), ``co`` (contains), ``pr`` (present), ``and``, ``or`` and
  parentheses. It has no negation, no suffix or pattern match and no full-text search.
* ``auth0``: the tenant log search query (Lucene-like, as seed 000's ``tenant_logs`` writes it:
  ``type: "mgmt_api_read" AND description: "Get client by ID"``), on the record's own field
  names (no ``data.`` envelope), with ``AND``/``OR``/``NOT``, ``*`` wildcards, ``_exists_`` and
  ranges. It has no regular expressions and no network ranges.

Both select single events: a rule that counts or correlates events has no such search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tokentrail.convert.errors import Unconvertible
from tokentrail.convert.fields import bare
from tokentrail.convert.forms import Form
from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, Expr, FieldRef, Keywords, Not, Scalar
from tokentrail.rules.model import Correlation


@dataclass(frozen=True)
class VendorTarget:
    name: str
    family: str
    title: str


TARGETS = {
    "okta": VendorTarget("okta", "okta", "Okta System Log filter"),
    "auth0": VendorTarget("auth0", "auth0", "Auth0 tenant log search"),
}


def to_vendor(target: VendorTarget, form: Form) -> tuple[str, list[str]]:
    """The search for the rule whose native form is ``form``, and its caveats."""
    if isinstance(form.logic, Correlation):
        raise Unconvertible(f"the {target.title} selects single events; the rule correlates several")
    if form.family != target.family:
        raise Unconvertible(f"not applicable: the {target.title} searches {target.family} logs; the rule is for "
                            f"{form.family} logs")
    caveats: list[str] = []
    grouping = form.grouping
    if grouping.threshold > 1 or grouping.distinct_field or grouping.new_terms or grouping.query is not None:
        caveats.append(f"the {target.title} selects the rule's events; its threshold or new-terms "
                       "condition over them is not part of the search")
    writer = _Okta(caveats) if target.name == "okta" else _Auth0(caveats)
    return writer.expr(form.logic, top=True), caveats


def _quoted(value: Scalar) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Writer:
    """What both searches share: caveats collected, operands joined and parenthesised."""

    def __init__(self, caveats: list[str]) -> None:
        self.caveats = caveats

    def expr(self, expr: Expr, top: bool = False) -> str:
        raise NotImplementedError

    def _join(self, items: tuple[Expr, ...], joiner: str, top: bool) -> str:
        return self._joined([self.expr(i) for i in items], joiner, top)

    @staticmethod
    def _joined(parts: list[str], joiner: str, top: bool) -> str:
        text = joiner.join(parts)
        return text if top or len(parts) == 1 else f"({text})"


class _Okta(_Writer):
    _OPS = {"eq": "eq", "startswith": "sw", "contains": "co"}

    def expr(self, expr: Expr, top: bool = False) -> str:
        match expr:
            case All(items):
                return self._join(items, " and ", top)
            case Any(items):
                return self._join(items, " or ", top)
            case Cmp():
                return self._cmp(expr, top)
            case Exists(field=name):
                return f"{bare(name)} pr"
            case Not():
                raise Unconvertible("the Okta System Log filter has no negation ('not')")
            case FieldRef(field=a, other=b):
                raise Unconvertible(f"the Okta System Log filter cannot compare two fields ({a}, {b})")
            case Keywords():
                raise Unconvertible("the Okta System Log filter has no full-text search (the API's "
                                    "'q' parameter is another query)")
            case Const(value):
                raise Unconvertible(f"the rule's condition is always {str(value).lower()} for Okta events")
        raise Unconvertible(f"no Okta filter for {type(expr).__name__}")

    def _cmp(self, cmp: Cmp, top: bool) -> str:
        op = self._OPS.get(cmp.op)
        if op is None:
            raise Unconvertible(f"the Okta System Log filter has no '{cmp.op}' comparison ({cmp.field})")
        if None in cmp.values:
            raise Unconvertible(f"the Okta System Log filter cannot test that {cmp.field} is missing")
        name = bare(cmp.field)
        parts = [f"{name} {op} {_quoted(v)}" for v in cmp.values]
        return self._joined(parts, " and " if cmp.all_values else " or ", top)


class _Auth0(_Writer):
    _ESCAPE = re.compile(r'([+\-=&|><!(){}\[\]^"~*?:\\/ ])')

    def expr(self, expr: Expr, top: bool = False) -> str:
        match expr:
            case All(items):
                return self._join(items, " AND ", top)
            case Any(items):
                return self._join(items, " OR ", top)
            case Not(item):
                return "NOT " + self.expr(item)
            case Cmp():
                return self._cmp(expr, top)
            case Exists(field=name):
                return f"_exists_:{self._field(name)}"
            case FieldRef(field=a, other=b):
                raise Unconvertible(f"the Auth0 log search cannot compare two fields ({a}, {b})")
            case Keywords():
                raise Unconvertible("the Auth0 log search matches fields, not free text")
            case Const(value):
                raise Unconvertible(f"the rule's condition is always {str(value).lower()} for Auth0 events")
        raise Unconvertible(f"no Auth0 search for {type(expr).__name__}")

    @staticmethod
    def _field(name: str) -> str:
        plain = bare(name)
        return plain[len("data."):] if plain.startswith("data.") else plain

    def _cmp(self, cmp: Cmp, top: bool) -> str:
        name = self._field(cmp.field)
        if cmp.op in ("regex", "cidr", "glob"):
            raise Unconvertible(f"the Auth0 log search has no '{cmp.op}' match ({cmp.field})")
        if cmp.cased and any(isinstance(v, str) for v in cmp.values):
            self.caveats.append(f"{cmp.field}: the Auth0 log search has no case-sensitive match")
        if cmp.op in ("contains", "endswith"):
            self.caveats.append(f"{cmp.field}: a leading wildcard works on some Auth0 log fields only")
        parts = [self._term(name, cmp.op, v) for v in cmp.values]
        return self._joined(parts, " AND " if cmp.all_values else " OR ", top)

    def _term(self, name: str, op: str, value: Scalar) -> str:
        if value is None:
            return f"NOT _exists_:{name}"
        if op == "eq":
            return f"{name}: {_quoted(value)}"
        if op in ("lt", "le", "gt", "ge"):
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise Unconvertible(f"the Auth0 log search compares ranges of numbers, not {value!r}")
            low, high = {"lt": ("[*", f"{value}}}"), "le": ("[*", f"{value}]"),
                         "gt": (f"{{{value}", "*]"), "ge": (f"[{value}", "*]")}[op]
            return f"{name}:{low} TO {high}"
        text = self._ESCAPE.sub(r"\\\1", str(value))
        pattern = {"startswith": f"{text}*", "endswith": f"*{text}", "contains": f"*{text}*"}[op]
        return f"{name}:{pattern}"
