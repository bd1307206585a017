"""IR -> SQL (sqlglot expressions, DuckDB dialect) over events held as JSON text.

Every predicate is three-valued, and that is how the SQL stays exactly as the Python matcher
(``compile/python.py``) decides: a leaf gives TRUE or FALSE only where SQL provably agrees with
Python, and NULL ("unsure") otherwise. SQL's AND/OR/NOT are Kleene logic, so a rule whose result
does not depend on an unsure leaf is still decided in SQL, and one that does comes out NULL: the
engine hands that event to the Python matcher. Decided in SQL:
  * a field reached through plain objects (the IR's "that value alone is the field's") holding a
    string, a boolean (its text), null, or an object;
  * a field that is missing with no list on the way and no literal dotted key that could supply
    it (for log types with case-insensitive keys, a missing field is unsure: another spelling
    might hold it);
  * ``eq``/``contains``/``startswith``/``endswith`` on ASCII text (Python's and DuckDB's
    lower-casing differ outside ASCII), ``glob`` and ``regex`` through DuckDB's RE2, IPv4
    ``cidr`` tests, ordering of text that is certainly no number.
  * ``a.b`` over an array of objects whose ``b`` are strings (Okta's ``target[].type``).
Unsure: other lists on the way or at the leaf, numbers, non-ASCII text for case-insensitive tests,
IPv6 text, ``Keywords`` and ``FieldRef`` (full-text and field-to-field run in Python).

Lambdas are written with the arrow (``s -> ...``), as sqlglot writes them: a DuckDB connection
running this SQL must allow it (``enable_arrow_lambdas``).

Field values are read once per event into lists (``json_type(j, [paths])`` and
``json_extract_string(j, [paths])``, one parse each); ``FieldTable`` numbers the paths.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable
from functools import partial

import re2
import sqlglot.expressions as sx

from tokentrail.compile.fields import number_of, split_field, text_of
from tokentrail.compile.regex import glob_to_regex
from tokentrail.rules.ir import All, Cmp, Const, Exists, Expr, FieldRef, Keywords, Not, Scalar
from tokentrail.rules.ir import Any as AnyOf

TYPES = "t"  # column holding the JSON type of each path (NULL: the path is absent)
TEXTS = "x"  # column holding each path's value as text
LOWERED = "lx"  # column holding each text lower-cased (NULL for non-ASCII text)
ARRAYS = "a"  # column holding the JSON text of arrays that fields fan out over
DOTTED = "dotted"  # column: the event may hold a key with a dot in it (then dotted routes are unsure)
# A JSON string holding a dot (or an escaped one) followed by a colon: a key with a dot, or
# text that looks like one (which only makes the event's missing fields unsure).
DOTTED_KEY = r'"([^"\\]|\\.)*(\.|\\u002[eE])([^"\\]|\\.)*"[ \t\r\n]*:'

_NUMBER_TYPES = ("BIGINT", "UBIGINT", "DOUBLE", "HUGEINT")
_IPV4_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"^{_IPV4_OCTET}(\.{_IPV4_OCTET}){{3}}$"
# Characters Python's float() may accept in an ASCII string (digits, signs, exponent, "_", ".",
# whitespace); text with another character, and not an inf/nan spelling, is certainly no number.
_NOT_NUMERIC_CHAR = "[^0-9_.eE+\\-\t\n\r\x0b\x0c\x1c-\x1f ]"
_INF_NAN = "(?i)^[\t\n\r\x0b\x0c\x1c-\x1f ]*[+-]?(inf|infinity|nan)[\t\n\r\x0b\x0c\x1c-\x1f ]*$"


def enable_arrow_lambdas(con) -> None:
    """Let a DuckDB connection read ``x -> ...`` lambdas (newer DuckDB wants a setting for it)."""
    import duckdb

    # An older DuckDB knows no such setting: arrows are its only lambda syntax.
    with contextlib.suppress(duckdb.Error):
        con.execute("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")


def json_path(parts: tuple[str, ...]) -> str | None:
    """DuckDB's JSON path of nested keys, or None for a key the path syntax cannot quote."""
    if any(not p or '"' in p or "\\" in p for p in parts):
        return None
    return "$" + "".join(f'."{p}"' for p in parts)


class FieldTable:
    """The JSON paths a set of predicates reads, numbered in the order first asked for."""

    def __init__(self) -> None:
        self.types: dict[str, int] = {}
        self.texts: dict[str, int] = {}
        self.arrays: dict[str, int] = {}

    def lowered_of(self, path: str) -> sx.Expression:
        """The text at ``path`` lower-cased (NULL when it is not ASCII), computed once per event."""
        i = self.texts.setdefault(path, len(self.texts))
        return sx.Bracket(this=sx.column(LOWERED), expressions=[sx.Literal.number(i)])

    def lowered_column(self) -> sx.Expression:
        """The column of lower-cased texts, to select where the texts column is in scope."""
        each = sx.Lambda(this=_ascii_lower(sx.column("s")), expressions=[sx.to_identifier("s")])
        return sx.alias_(_call("list_transform", sx.column(TEXTS), each), LOWERED)

    def derived_of(self, path: str, what: str, expr: sx.Expression) -> sx.Expression:
        """``expr``, a value derived from the text at ``path`` (``what`` names it), as a
        comparison reads it: here the expression itself; a table may compute it once per row."""
        return expr

    def array_of(self, path: str) -> sx.Expression:
        """The JSON text at ``path`` (read when it is an array of objects to fan out over)."""
        i = self.arrays.setdefault(path, len(self.arrays))
        return sx.Bracket(this=sx.column(ARRAYS), expressions=[sx.Literal.number(i)])

    def objects_key(self, path: str, key: str) -> tuple[sx.Expression, sx.Expression] | None:
        """Over an array of objects at ``path``: whether every element is an object whose ``key``
        holds a string, and the list of those strings, where the table can answer without the
        array's JSON text (None here: ``array_of`` is read)."""
        return None

    def type_of(self, path: str) -> sx.Expression:
        i = self.types.setdefault(path, len(self.types))
        return sx.Bracket(this=sx.column(TYPES), expressions=[sx.Literal.number(i)])

    def text_of(self, path: str) -> sx.Expression:
        i = self.texts.setdefault(path, len(self.texts))
        return sx.Bracket(this=sx.column(TEXTS), expressions=[sx.Literal.number(i)])

    def columns(self, source: str) -> tuple[list[sx.Expression], list[sx.Expression]]:
        """The columns that read the table's paths from the JSON column ``source``: whether the
        event may hold a dotted key, and the JSON type of every path read (NULL for malformed
        JSON); then the text of every path compared and of every array fanned out over (to read
        from well-formed JSON only)."""
        col = sx.column(source)

        def paths(names: dict[str, int]) -> sx.Expression:
            return sx.Array(expressions=[sx.Literal.string(p) for p in names] or [sx.Literal.string("$")])

        return [
            sx.alias_(_regex(col.copy(), DOTTED_KEY), DOTTED),
            # try(): malformed JSON gives NULL (that event is then read in Python), not an error.
            sx.alias_(_call("try", sx.Anonymous(this="json_type", expressions=[col, paths(self.types)])), TYPES),
        ], [sx.alias_(sx.Anonymous(this="json_extract_string", expressions=[col.copy(), paths(self.texts)]), TEXTS),
            sx.alias_(sx.Anonymous(this="json_extract", expressions=[col.copy(), paths(self.arrays)]), ARRAYS)]


class LeafTable:
    """Comparisons shared by many rules, each computed once per event as a column of its own
    (DuckDB does not find common parts of a large expression by itself)."""

    def __init__(self, prefix: str = "l") -> None:
        self.prefix = prefix
        self.leaves: dict[tuple[str, bool], tuple[str, sx.Expression]] = {}

    def column(self, node: Expr, ci: bool, build) -> sx.Expression:
        # By repr: nodes compare 1 == True == 1.0, which the IR tells apart.
        key = (repr(node), ci)
        found = self.leaves.get(key)
        if found is None:
            found = self.leaves[key] = (f"{self.prefix}{len(self.leaves)}", build())
        return sx.column(found[0])

    def columns(self) -> list[sx.Expression]:
        """The leaf columns, to select where the fields' columns are in scope."""
        return [sx.alias_(expr, name) for name, expr in self.leaves.values()]


def compile_sql(expr: Expr, fields: FieldTable, *, ci_fields: bool = False,
                leaves: LeafTable | None = None, portable: bool = False) -> sx.Expression:
    """A three-valued SQL condition for ``expr``: TRUE/FALSE where decided, NULL where the event
    must be matched in Python. Field reads are registered in ``fields``; with ``leaves``, every
    comparison is a column of that table, and the condition reads those columns. ``portable``
    keeps to what every dialect ``compile/dialects.py`` writes means alike: no regex (glob,
    regex, cidr and ordering tests need RE2 or DuckDB's casts) and no walk over arrays of
    objects (DuckDB's JSON path wildcards) — those leaves are unsure, and Python decides."""
    return _Compiler(fields, ci_fields, leaves, portable).compile(expr)


def _call(name: str, *args: sx.Expression) -> sx.Expression:
    return sx.Anonymous(this=name, expressions=list(args))


def _lit(value: str) -> sx.Expression:
    return sx.Literal.string(value)


def _case(branches: list[tuple[sx.Expression, sx.Expression]], default: sx.Expression | None = None) -> sx.Expression:
    return sx.Case(ifs=[sx.If(this=c, true=v) for c, v in branches], default=default or sx.null())


def _bool(value: bool) -> sx.Expression:
    return sx.true() if value else sx.false()


def _all(items: list[sx.Expression]) -> sx.Expression:
    return sx.and_(*items, copy=False) if items else sx.true()


def _any(items: list[sx.Expression]) -> sx.Expression:
    return sx.or_(*items, copy=False) if items else sx.false()


def _ascii(text: sx.Expression) -> sx.Expression:
    """The text is ASCII (bytes == characters): lower-casing agrees in Python and DuckDB."""
    return sx.EQ(this=_call("strlen", text), expression=_call("length", text.copy()))


def _ascii_lower(text: sx.Expression) -> sx.Expression:
    """The text lower-cased where that is the same in Python and DuckDB (ASCII), else NULL: a
    test of NULL is NULL, so a non-ASCII text is left to Python."""
    return _case([(_ascii(text), sx.Lower(this=text.copy()))])


def _regex(text: sx.Expression, pattern: str) -> sx.Expression:
    return _call("regexp_matches", text, _lit(pattern))


class _Compiler:
    def __init__(self, fields: FieldTable, ci: bool, leaves: LeafTable | None = None, portable: bool = False) -> None:
        self.fields = fields
        self.ci = ci
        self.leaves = leaves
        self.portable = portable

    def compile(self, expr: Expr) -> sx.Expression:
        match expr:
            case All(items):
                return sx.paren(_all([self.compile(i) for i in items])) if items else sx.true()
            case AnyOf(items):
                return sx.paren(_any([self.compile(i) for i in items])) if items else sx.false()
            case Not(item):
                return sx.not_(sx.paren(self.compile(item)))
            case Const(value):
                return _bool(value)
            case Exists(field) if self.leaves is None:
                return self._exists(field)
            case Cmp() if self.leaves is None:
                return self._cmp(expr)
            case Exists(field):
                return self.leaves.column(expr, self.ci, lambda: self._exists(field))
            case Cmp():
                return self.leaves.column(expr, self.ci, lambda: self._cmp(expr))
            case FieldRef() | Keywords():
                return sx.null()
        raise TypeError(f"not an IR node: {expr!r}")

    # -- fields ------------------------------------------------------------------------------
    def _missing_clean(self, parts: tuple[str, ...]) -> sx.Expression | None:
        """SQL true when the field is certainly absent by every route: the nested path is not
        there, no object on the way is a list, and no literal dotted key could stand in. None
        when that cannot be decided in SQL (case-insensitive keys, an unquotable key)."""
        if self.ci:
            return None
        full = json_path(parts)
        if full is None:
            return None
        conds = [sx.Is(this=self.fields.type_of(full), expression=sx.null())]
        for k in range(1, len(parts)):
            conds.append(sx.NullSafeNEQ(this=self.fields.type_of(json_path(parts[:k])), expression=_lit("ARRAY")))
        if len(parts) > 1:
            conds.append(sx.not_(sx.column(DOTTED)))
        return _all(conds)

    def _exists(self, field: str) -> sx.Expression:
        parts = split_field(field)
        full = json_path(parts)
        if full is None:
            return sx.null()
        branches = [(sx.Not(this=sx.Is(this=self.fields.type_of(full), expression=sx.null())), sx.true())]
        clean = self._missing_clean(parts)
        if clean is not None:
            branches.append((clean, sx.false()))
        return _case(branches)

    # -- comparisons ---------------------------------------------------------------------------
    def _cmp(self, node: Cmp) -> sx.Expression:
        parts = split_field(node.field)
        full = json_path(parts)
        if full is None:
            return sx.null()
        kind, text = self.fields.type_of(full), self.fields.text_of(full)
        values = tuple(v for v in node.values if v is not None)
        wants_null = len(values) != len(node.values)
        if node.all_values and len(values) > 1:
            # Every value must match (None values are ignored, as in the Python matcher).
            tests = [self._text_test(node.op, (v,), node.cased, text.copy(), partial(self.fields.lowered_of, full),
                                     partial(self.fields.derived_of, full)) for v in values]
            test = None if any(t is None for t in tests) else _all(tests)
            null_result = missing_result = False
        else:
            test = (self._text_test(node.op, values, node.cased, text, partial(self.fields.lowered_of, full),
                                    partial(self.fields.derived_of, full)) if values else sx.false())
            null_result = missing_result = wants_null
        branches: list[tuple[sx.Expression, sx.Expression]] = []
        if len(parts) == 2 and test is not None and not self.portable:
            fanned = self._over_objects(node, parts, values, missing_result)
            if fanned is not None:
                branches.append(fanned)
        if test is not None:
            branches.append((sx.EQ(this=kind, expression=_lit("VARCHAR")), test))
            if node.op not in ("cidr", "lt", "le", "gt", "ge"):
                branches.append((sx.EQ(this=kind.copy(), expression=_lit("BOOLEAN")), test.copy()))
        if node.op == "cidr":
            # A boolean is no IP address.
            branches.append((sx.EQ(this=kind.copy(), expression=_lit("BOOLEAN")), sx.false()))
        branches.append((sx.EQ(this=kind.copy(), expression=_lit("NULL")), _bool(null_result)))
        branches.append((sx.EQ(this=kind.copy(), expression=_lit("OBJECT")), sx.false()))
        clean = self._missing_clean(parts)
        if clean is not None:
            branches.append((clean, _bool(missing_result)))
        return _case(branches)

    def _over_objects(self, node: Cmp, parts: tuple[str, ...], values: tuple[Scalar, ...],
                      missing_result: bool) -> tuple[sx.Expression, sx.Expression] | None:
        """``a.b`` where ``a`` is an array of objects (Okta's ``target[]``): decided when every
        element is an object whose ``b`` is a string or absent, and the event holds no dotted
        key (``"a.b"`` could add values); the field matches if any element's value does."""
        head, key = json_path(parts[:1]), parts[1]
        if head is None or json_path((key,)) is None:
            return None
        typed = self.fields.objects_key(head, key)
        if typed is None:
            arr = self.fields.array_of(head)
            elements = _call("json_type", arr, _lit("$[*]"))
            leaf_types = _call("json_type", arr.copy(), _lit(f'$[*]."{key}"'))
            every = sx.and_(_every(elements, "OBJECT"), _every(leaf_types, "VARCHAR"))
            texts = _call("json_extract_string", arr.copy(), _lit(f'$[*]."{key}"'))
        else:
            every, texts = typed
        s = sx.column("s")
        if node.all_values and len(values) > 1:
            tests = [self._text_test(node.op, (v,), node.cased, s.copy()) for v in values]
        else:
            tests = [self._text_test(node.op, values, node.cased, s)]
        if any(t is None for t in tests):
            return None
        verdicts = []
        for test in tests:
            # Each element's verdict once, ranked 2 (true), 1 (unsure) or 0 (false): any true
            # element decides, else any unsure one leaves it unsure (no element: false).
            rank = sx.Coalesce(this=sx.Mul(this=sx.Cast(this=test, to=sx.DataType.build("INT")),
                                           expression=sx.Literal.number(2)), expressions=[sx.Literal.number(1)])
            best = _call("list_max", _call("list_transform", texts.copy(),
                                           sx.Lambda(this=rank, expressions=[sx.to_identifier("s")])))
            unsure_as_null = sx.Nullif(this=sx.Coalesce(this=best, expressions=[sx.Literal.number(0)]),
                                       expression=sx.Literal.number(1))
            verdicts.append(sx.paren(sx.EQ(this=unsure_as_null, expression=sx.Literal.number(2))))
        found = _all(verdicts) if len(verdicts) > 1 else verdicts[0]
        # No element holds the key: a missing field (unsure where keys may be spelled otherwise).
        empty = sx.EQ(this=_call("len", texts.copy()), expression=sx.Literal.number(0))
        result = _case([(empty, sx.null() if self.ci else _bool(missing_result))], found)
        plain = _all([
            sx.EQ(this=self.fields.type_of(head), expression=_lit("ARRAY")),
            sx.not_(sx.column(DOTTED)),
            every,
        ])
        return plain, result

    def _text_test(self, op: str, values: tuple[Scalar, ...], cased: bool, s: sx.Expression,
                   lowered: Callable[[], sx.Expression] | None = None,
                   derived: Callable[[str, sx.Expression], sx.Expression] | None = None) -> sx.Expression | None:
        """A test of the text ``s`` against ``values`` (any of them), TRUE/FALSE/NULL; None when
        no such test can be written (every such text is then unsure). ``lowered`` gives ``s``
        lower-cased as the field table reads it (asked only by a case-insensitive test: the
        table may compute each text it is asked for once per row); ``derived`` likewise gives a
        value computed from ``s`` (``FieldTable.derived_of``), None for ``s`` inside a lambda."""
        if op == "eq":
            if any(not isinstance(v, str | bool) for v in values):
                return None  # numbers compare numerically with numeric text: Python decides
            needles = sorted({_norm(str(text_of(v)), cased) for v in values})
            probe = s if cased else (lowered() if lowered else _ascii_lower(s))
            return sx.In(this=probe, expressions=[_lit(n) for n in needles])
        if op in ("contains", "startswith", "endswith"):
            needles = [_norm(str(text_of(v)), cased) for v in values]
            probe = s if cased else (lowered() if lowered else _ascii_lower(s))
            fn = {"contains": "contains", "startswith": "starts_with", "endswith": "ends_with"}[op]
            return _any([_call(fn, probe.copy(), _lit(n)) for n in needles])
        if self.portable and op in ("glob", "regex", "cidr", "lt", "le", "gt", "ge"):
            return None
        if op in ("glob", "regex"):
            patterns = [glob_to_regex(t, cased=cased) if op == "glob" else t for t in (str(text_of(v)) for v in values)]
            if not all(_re2_ok(p) for p in patterns):
                return None  # the Python fallback engine runs it
            return _any([_regex(s.copy(), p) for p in patterns])
        if op == "cidr":
            return self._cidr(values, s, derived)
        if op in ("lt", "le", "gt", "ge"):
            return self._order(op, values, s)
        raise ValueError(f"unknown operator {op!r}")

    @staticmethod
    def _cidr(values: tuple[Scalar, ...], s: sx.Expression,
              derived: Callable[[str, sx.Expression], sx.Expression] | None = None) -> sx.Expression:
        """IPv4 ranges: the text's address as an integer (NULL unless a strict dotted quad) and
        whether the text is plain (no IPv6, nothing Python strips), each a value ``derived``
        may share between every range test of the field."""
        share = derived or (lambda _what, expr: expr)
        nets = [ipaddress.ip_network(str(v), strict=False) for v in values]
        octets = [sx.Cast(this=_call("split_part", s.copy(), _lit("."), sx.Literal.number(i)),
                          to=sx.DataType.build("BIGINT")) for i in range(1, 5)]
        number = sx.Add(this=sx.Add(this=sx.Add(
            this=sx.Mul(this=octets[0], expression=sx.Literal.number(16777216)),
            expression=sx.Mul(this=octets[1], expression=sx.Literal.number(65536))),
            expression=sx.Mul(this=octets[2], expression=sx.Literal.number(256))),
            expression=octets[3])
        addr = share("ipv4", _case([(_regex(s.copy(), _IPV4), number)]))
        inside = _any([sx.Between(this=addr.copy(), low=sx.Literal.number(int(n.network_address)),
                                  high=sx.Literal.number(int(n.broadcast_address)))
                       for n in nets if n.version == 4])
        # Text that is not a strict dotted quad is no IPv4 address; Python may still read it as
        # IPv6 (a colon) or after stripping whitespace (anything but printable ASCII).
        plain = share("plain", sx.and_(_regex(s.copy(), "^[!-~]*$"), sx.not_(_call("contains", s.copy(), _lit(":")))))
        return _case([(sx.not_(sx.Is(this=addr.copy(), expression=sx.null())), inside), (plain, sx.false())])

    @staticmethod
    def _order(op: str, values: tuple[Scalar, ...], s: sx.Expression) -> sx.Expression:
        """Ordering: decided for ASCII text that is certainly no number (string order, against
        bounds that are no number either; never against a number)."""
        cls = {"lt": sx.LT, "le": sx.LTE, "gt": sx.GT, "ge": sx.GTE}[op]
        tests = [cls(this=s.copy(), expression=_lit(str(text_of(v))))
                 for v in values if number_of(v) is None and text_of(v) is not None]
        certain = sx.and_(_ascii(s.copy()), _regex(s.copy(), _NOT_NUMERIC_CHAR), sx.not_(_regex(s.copy(), _INF_NAN)))
        return _case([(certain, _any(tests))])


def _every(types: sx.Expression, name: str) -> sx.Expression:
    """Every JSON type in the list ``types`` is ``name`` (true for an empty list)."""
    same = sx.Lambda(this=sx.EQ(this=sx.column("e"), expression=_lit(name)), expressions=[sx.to_identifier("e")])
    return sx.Coalesce(this=_call("list_bool_and", _call("list_transform", types, same)), expressions=[sx.true()])


def _norm(s: str, cased: bool) -> str:
    return s if cased else s.lower()


def _re2_ok(pattern: str) -> bool:
    try:
        re2.compile(pattern)
    except re2.error:
        return False
    return True
