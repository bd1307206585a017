"""A typed batch's digest texts and output fields are handed to alerting as one Python object
per distinct value (``DigestedBatch``): the values must be Arrow's own, in row order, and equal
values the same object."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tokentrail.engine.batch_route import DigestedBatch, DigestedRows, shared_values

_TEXT = st.one_of(st.none(), st.sampled_from(["", "a", "b", "ä", "a\x00"]), st.text(max_size=4))


def _batch(texts: list[list[str | None]], outputs: list[str | None]) -> DigestedBatch:
    """A typed result of one digested row per event with these texts and outputs."""
    n = len(texts)
    table = pa.table({
        "line": pa.array(range(n), pa.int64()),
        "log_type": pa.array(["okta"] * n),
        "codes": pa.array([None] * n, pa.list_(pa.int64())),
        "count": pa.array([None] * n, pa.int64()),
        "unit": pa.array([0] * n, pa.int64()),
        "times": pa.array([["2026-01-01T00:00:00Z"]] * n, pa.list_(pa.string())),
        "ids": pa.array([[f"e{k}"] for k in range(n)], pa.list_(pa.string())),
        "texts": pa.array(texts, pa.list_(pa.string())),
        "outputs": pa.array(outputs, pa.string()),
    })
    return DigestedBatch(table, DigestedRows.of(table.column("line"), table.column("unit")))


def _one_object_per_value(values: list[object]) -> bool:
    """Whether equal values among ``values`` are the same object."""
    first: dict[object, object] = {}
    return all(first.setdefault(v, v) is v for v in values)


@settings(deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT, _TEXT, _TEXT), min_size=1, max_size=40), st.lists(st.booleans()))
@example([("a", "b", None, "a"), ("a", "b", None, "a"), ("a", None, "b", None)], [True, False, True])
def test_keys_texts_and_outputs_are_arrows_values_shared(rows: list[tuple[str | None, ...]], skip: list[bool]) -> None:
    """Each of ``rows`` is one digest's three texts and its output; ``skip`` leaves rows out of a run."""
    outputs = [row[3] for row in rows]
    batch = _batch([list(row[:3]) for row in rows], outputs)
    picked = np.array([r for r in range(len(rows)) if not (r < len(skip) and skip[r])], np.int64)
    for k0, k1 in ((0, 1), (0, 2), (1, 3), (0, 3), (2, 2)):
        keys = batch.keys_at(picked, k0, k1)
        assert keys == [tuple(rows[r][k0:k1]) for r in picked.tolist()]
        assert _one_object_per_value(keys)
    for k in range(3):
        texts = batch.texts_at(picked, k)
        assert texts == [rows[r][k] for r in picked.tolist()]
        assert _one_object_per_value(texts)
    got = batch.row_outputs(picked)
    assert got == [outputs[r] for r in picked.tolist()]
    assert _one_object_per_value(got)


def test_shared_values_of_an_all_null_column() -> None:
    assert shared_values(pa.array([None, None], pa.null())).tolist() == [None, None]
    assert shared_values(pa.array([], pa.string())).tolist() == []
