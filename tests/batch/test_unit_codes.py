"""An anchored unit's code in the typed query: three-valued ``anchor AND residual`` as 1, 0 or
-1 (unsure), for every combination of TRUE, FALSE and NULL."""

from __future__ import annotations

import itertools

import duckdb
import sqlglot.expressions as sx

from tokentrail.engine.batch import _code, _code_under

VALUES = {True: "TRUE", False: "FALSE", None: "NULL"}


def expected(first, then):
    if first is False or then is False:
        return 0
    if first is True and then is True:
        return 1
    return -1


def test_code_under_is_the_code_of_the_conjunction():
    con = duckdb.connect()
    code = _code_under(sx.column("a"), sx.column("b")).sql("duckdb")
    plain = _code(sx.and_(sx.column("a"), sx.column("b"))).sql("duckdb")
    for first, then in itertools.product(VALUES, repeat=2):
        row, = con.execute(f"SELECT {code}, {plain}, typeof({code}) FROM "
                      f"(SELECT {VALUES[first]}::BOOLEAN AS a, {VALUES[then]}::BOOLEAN AS b)").fetchall()
        assert row == (expected(first, then), expected(first, then), "TINYINT"), (first, then)
