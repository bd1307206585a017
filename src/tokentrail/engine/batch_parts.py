"""The typed (Parquet) matching query in bounded parts, and which file columns it reads.

One statement over every unit of a large rule set is megabytes of SQL: writing it holds the
whole expression tree in Python, DuckDB's PREPARE takes hundreds of MB outside its memory limit,
and each EXECUTE re-binds all of it. So the units are cut into parts of at most a budget of
units each; each part is its own statement over the same batch, giving per row (in input
order) the log type, the codes of its units and the SQL digests of those it matched; a small
merging statement joins the parts' codes and digests row by row and gives the one result the
router reads, exactly as the single statement gives it (see ``BatchEngine._typed_sql``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import pyarrow as pa

from tokentrail.engine.batch_digest import TypeDigest, UnitDigest
from tokentrail.engine.plan import Unit

STATEMENT_UNITS = 400  # units per typed statement: planning memory against per-part CPU (docs/benchmarks.md)
# A pack up to a quarter over the budget is planned whole: the bundled pack with a 200-rule one
# (464 units) costs less CPU and peak RSS as one statement than as two parts and their merge.
WHOLE_SLACK = 1.25
PART_LOG_TYPE = "__tt_lt"  # the merging statement's input: the row's log type (from the first part)
TYPED_INPUT = "typed_input"  # the Arrow batch (or the file's rows) a typed statement reads
PARTS_INPUT = "typed_parts"  # the parts' results beside it, that the merging statement reads
LINE_COLUMN = "__tt_line"  # a typed statement's input: each row's number in its batch

# One part's units of each log type: the position (0-based) of its first unit in the log type's
# whole unit list, and the units.
Part = dict[str, tuple[int, list[Unit]]]


@dataclass(frozen=True, slots=True)
class TypedPlan:
    """The prepared statements of one schema: one statement, or parts and their merge."""

    statements: tuple[str, ...]  # prepared names, run over the same batch
    merge: str | None  # the merging statement (None: one statement gives the result)
    digests: dict[int, UnitDigest]  # the SQL digests, by unit index
    columns: tuple[str, ...] | None  # the file's columns the statements and digests read (None: every one)
    carried: tuple[str, ...]  # the batch columns the merging statement reads (time and id fields)


def unit_parts(by_type: Mapping[str, Sequence[Unit]], budget: int) -> list[Part]:
    """The units of every log type, in order, cut into parts of at most ``budget`` units; one
    part when they are at most ``WHOLE_SLACK`` budgets."""
    total = sum(len(units) for units in by_type.values())
    if total <= budget * WHOLE_SLACK:
        budget = max(budget, total)
    parts: list[Part] = [{}]
    room = budget
    for lt, units in by_type.items():
        start = 0
        while start < len(units):
            if room == 0:
                parts.append({})
                room = budget
            taken = list(units[start:start + room])
            parts[-1][lt] = (start, taken)
            start += len(taken)
            room -= len(taken)
    return parts


def part_digests(digests: Mapping[str, TypeDigest], part: Part) -> dict[str, TypeDigest]:
    """The SQL digests of a part's units, positioned in the part's own code lists."""
    out: dict[str, TypeDigest] = {}
    for lt, (start, units) in part.items():
        plan = digests.get(lt)
        if plan is None:
            continue
        local = {p - start: d for p, d in plan.units.items() if start < p <= start + len(units)}
        if local:
            out[lt] = replace(plan, units=local)
    return out


def codes_column(k: int) -> str:
    """The merging statement's input column of part ``k``'s codes."""
    return f"__tt_h{k}"


def digests_column(k: int) -> str:
    """The merging statement's input column of part ``k``'s digests."""
    return f"__tt_o{k}"


def said_column(k: int) -> str:
    """The merging statement's input column of whether part ``k`` matched the row or was unsure."""
    return f"__tt_f{k}"


def merge_input(batch: pa.Table, kept: Sequence[str], parts: Sequence[pa.Table]) -> pa.Table:
    """The merging statement's input: the ``kept`` columns of the batch and, side by side (each
    part's rows are the batch's, in order), the log type and each part's codes, whether they
    hold a match or an unsure one, and its digests."""
    table = batch.select(list(kept)).append_column(PART_LOG_TYPE, parts[0].column("lt"))
    for k, part in enumerate(parts):
        if part.num_rows != batch.num_rows:
            raise AssertionError(f"part {k} gave {part.num_rows} rows for {batch.num_rows}")
        for name, column in ((codes_column(k), "h"), (said_column(k), "f"), (digests_column(k), "o")):
            table = table.append_column(name, part.column(column))
    return table
