"""SQL expressions (sqlglot, written with DuckDB's meaning) to the text of each SQL target.

The compilers build one sqlglot tree, meant as DuckDB means it (DuckDB is the target the tests
run). sqlglot's generators turn it into each dialect's text, and where that text is wrong, or
means something else, the tree is rewritten for the dialect first. Every rewrite below was
found by rendering the tree and reading the output; the golden tests in
``tests/convert/test_sql_dialects.py`` pin each of them.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
import sqlglot.expressions as sx
from sqlglot.dialects.snowflake import Snowflake

DIALECTS: tuple[str, ...] = ("duckdb", "spark", "databricks", "snowflake", "bigquery", "trino")
# The regex engine each target runs: RE2 gives our rules' regexes their meaning.
REGEX_ENGINE: dict[str, str] = {
    "duckdb": "RE2", "bigquery": "RE2", "spark": "Java", "databricks": "Java",
    "trino": "Joni (Java-like)", "snowflake": "POSIX ERE",
}

Rewrite = Callable[[sx.Expression], sx.Expression]


class _SnowflakeVariant(Snowflake):
    """Snowflake with VARIANT paths written ``col:a.b`` (sqlglot writes ``GET_PATH(col, 'a.b')``,
    which means the same; the colon form is what Snowflake users read and write)."""

    class Generator(Snowflake.Generator):
        TRANSFORMS = {
            **Snowflake.Generator.TRANSFORMS,
            sx.JSONExtract: lambda self, e: f"{self.sql(e, 'this')}:{_variant_path(e.expression)}",
        }


def _variant_path(path: sx.Expression) -> str:
    keys = [p.this for p in path.expressions if isinstance(p, sx.JSONPathKey)]
    # A key that is no plain identifier is quoted in the path, as Snowflake reads it.
    return ".".join(k if k.replace("_", "a").isalnum() and not k[0].isdigit() else f'"{k}"' for k in keys)


def render(expr: sx.Expression, dialect: str, *, pretty: bool = False) -> str:
    """The text of ``expr`` in ``dialect`` (one of ``DIALECTS``), with our fixes applied."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r} (known: {', '.join(DIALECTS)})")
    tree = expr.copy()
    for rewrite in _REWRITES.get(dialect, ()):
        tree = _rewrite_all(tree, rewrite)
    writer = _SnowflakeVariant if dialect == "snowflake" else dialect
    return tree.sql(dialect=writer, pretty=pretty)


def _rewrite_all(tree: sx.Expression, rewrite: Rewrite) -> sx.Expression:
    """``tree`` with ``rewrite`` applied everywhere. sqlglot's ``transform`` does not look inside
    a node it has just replaced (a lambda in a rewritten call), so it runs until nothing changes."""
    for _ in range(64):
        before = tree.sql()
        tree = tree.transform(rewrite)
        if tree.sql() == before:
            break
    return tree


# -- DuckDB function names ---------------------------------------------------------------------
# ``compile/sql.py`` writes DuckDB's functions as plain calls (``len``, ``list_contains``, ...).
# sqlglot cannot translate a call it does not know as such, and it reads ``len(list)`` as the
# length of a string (every target then writes ``LENGTH(list)``, a type error): they are made
# typed nodes first, which each dialect writes in its own spelling.
def _typed_calls(node: sx.Expression) -> sx.Expression:
    if not isinstance(node, sx.Anonymous):
        return node
    name, args = str(node.this).lower(), node.expressions
    match name, len(args):
        case "len", 1:
            return sx.ArraySize(this=args[0])
        case "list_contains", 2:
            return sx.ArrayContains(this=args[0], expression=args[1])
        case "list_transform", 2:
            return sx.Transform(this=args[0], expression=args[1])
        case "starts_with", 2:
            return sx.StartsWith(this=args[0], expression=args[1])
        case "ends_with", 2:
            return sx.EndsWith(this=args[0], expression=args[1])
        case "contains", 2:
            return sx.Contains(this=args[0], expression=args[1])
        case "regexp_matches", 2:
            return sx.RegexpLike(this=args[0], expression=args[1])
        case "split_part", 3:
            return sx.SplitPart(this=args[0], delimiter=args[1], part_index=args[2])
        case "length", 1:
            return sx.Length(this=args[0])
        case "strlen", 1:
            # Bytes of the UTF-8 text (DuckDB's strlen); every target but DuckDB calls it so.
            return sx.Anonymous(this="OCTET_LENGTH", expressions=args)
    return node


# -- array overlap -----------------------------------------------------------------------------
# sqlglot writes DuckDB's ``list_has_any`` as the operator ``&&``, which Spark 4, Databricks and
# Trino reject (Spark: PARSE_SYNTAX_ERROR; Trino has no such operator); they call it
# ``arrays_overlap``. BigQuery has neither: it asks whether some element is in the other array.
def _overlap_call(node: sx.Expression) -> sx.Expression:
    if isinstance(node, sx.ArrayOverlaps):
        return sx.Anonymous(this="ARRAYS_OVERLAP", expressions=[node.this, node.expression])
    return node


def _overlap_bigquery(node: sx.Expression) -> sx.Expression:
    if isinstance(node, sx.ArrayOverlaps):
        query = sqlglot.parse_one("EXISTS(SELECT 1 FROM UNNEST(_a) AS _e WHERE _e IN UNNEST(_b))", read="bigquery")
        return query.transform(lambda n: (node.this.copy() if n.name == "_a" else node.expression.copy())
                               if isinstance(n, sx.Column) and n.name in ("_a", "_b") else n)
    return node


# -- substring search --------------------------------------------------------------------------
# BigQuery's CONTAINS_SUBSTR (what sqlglot writes for contains) ignores case and normalises
# Unicode, so a case-sensitive search would match too much; Trino's CONTAINS is for arrays.
# Both find a substring with STRPOS.
def _contains_strpos(node: sx.Expression) -> sx.Expression:
    if isinstance(node, sx.Contains):
        return sx.GT(this=sx.StrPosition(this=node.this, substr=node.expression), expression=sx.Literal.number(0))
    return node


# -- regex search ------------------------------------------------------------------------------
# Snowflake's REGEXP_LIKE must match the whole text (it anchors both ends), while our regexes are
# searched; REGEXP_INSTR finds a match anywhere.
def _regex_search_snowflake(node: sx.Expression) -> sx.Expression:
    if isinstance(node, sx.RegexpLike):
        return sx.GT(this=sx.Anonymous(this="REGEXP_INSTR", expressions=[node.this, node.expression]),
                     expression=sx.Literal.number(0))
    return node


# -- casts that must not fail ------------------------------------------------------------------
# sqlglot writes TRY_CAST as CAST for Spark and Snowflake; Spark 4 (ANSI mode) and Snowflake
# raise an error on a text that is no number, where the rule means "not a number: no match".
# Both have TRY_CAST.
def _keep_try_cast(node: sx.Expression) -> sx.Expression:
    if isinstance(node, sx.TryCast):
        return sx.Anonymous(this="TRY_CAST", expressions=[sx.alias_(node.this, node.to.sql(), quoted=False)])
    return node


# -- BigQuery's missing functions --------------------------------------------------------------
# BigQuery has no SPLIT_PART (sqlglot writes it anyway) and no TIME_TO_UNIX: it indexes SPLIT's
# array and calls UNIX_SECONDS. Its LIKE escapes with a backslash and takes no ESCAPE clause.
def _bigquery_functions(node: sx.Expression) -> sx.Expression:
    if isinstance(node, sx.SplitPart):
        index = int(node.args["part_index"].this) - 1
        parts = sx.Split(this=node.this, expression=node.args["delimiter"])
        return sx.Bracket(this=parts, expressions=[sx.Anonymous(this="SAFE_OFFSET", expressions=[sx.Literal.number(index)])])
    if isinstance(node, sx.TimeToUnix):
        # TIMESTAMPTZ: BigQuery's TIMESTAMP (sqlglot writes a plain TIMESTAMP as DATETIME, which
        # UNIX_SECONDS does not take).
        value = node.this.this if isinstance(node.this, sx.Cast) else node.this
        return sx.Anonymous(this="UNIX_SECONDS", expressions=[sx.Cast(this=value, to=sx.DataType.build("TIMESTAMPTZ"))])
    if isinstance(node, sx.Escape) and isinstance(node.this, sx.Like):
        return node.this
    return node


# -- Snowflake VARIANT paths -------------------------------------------------------------------
# A nested field ``actor.alternateId`` is a struct path elsewhere; in Snowflake the record is
# VARIANT and ``actor.alternateId`` would name a column of a table ``actor``. It reads
# ``actor:alternateId``, a VARIANT: made text (``::STRING``) wherever text is compared, and an
# ARRAY where a lambda walks it.
def _variant_paths(node: sx.Expression) -> sx.Expression:
    # Trees are walked from the top: the outermost ``Dot`` of a path takes the whole path.
    if isinstance(node, sx.Dot):
        keys: list[str] = []
        inner: sx.Expression = node
        while isinstance(inner, sx.Dot):
            keys.insert(0, inner.expression.this)
            inner = inner.this
        if isinstance(inner, sx.Column) and not inner.table:
            path = sx.JSONPath(expressions=[sx.JSONPathRoot(), *(sx.JSONPathKey(this=k) for k in keys)])
            return sx.JSONExtract(this=inner, expression=path, variant_extract=True)
    return node


def _variant_text(node: sx.Expression) -> sx.Expression:
    """VARIANT values where text is compared become text; arrays walked by a lambda, ARRAYs."""
    if isinstance(node, sx.ArrayFilter | sx.Transform) and isinstance(node.this, sx.JSONExtract | sx.Column):
        node.set("this", sx.Cast(this=node.this, to=sx.DataType.build("ARRAY")))
        return node
    if isinstance(node, sx.JSONExtract) and not isinstance(node.parent, sx.Cast | sx.ArrayFilter | sx.Transform):
        return sx.Cast(this=node, to=sx.DataType.build("VARCHAR"))
    return node


_REWRITES: dict[str, tuple[Rewrite, ...]] = {
    "duckdb": (),
    "spark": (_typed_calls, _overlap_call, _keep_try_cast),
    "databricks": (_typed_calls, _overlap_call, _keep_try_cast),
    "trino": (_typed_calls, _overlap_call, _contains_strpos),
    "bigquery": (_typed_calls, _overlap_bigquery, _contains_strpos, _bigquery_functions),
    "snowflake": (_typed_calls, _regex_search_snowflake, _keep_try_cast, _variant_paths, _variant_text),
}
