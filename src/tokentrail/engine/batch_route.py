"""A typed (Parquet) query's digested rows, computed over their columns for routing.

``BatchEngine._route_typed`` routes the typed query's rows in input order: count rows, rows
Python takes whole, and digested rows — one per (event, matched unit), an event's rows adjacent.
What the per-row definition decides for each digested event (where it starts, its time and id,
whether it repeats an event taken before, the id its matches are alerted by) and for each row
(its event, its rule's run of bulk matches) is computed here with numpy and Arrow, once per
batch; only what depends on order across alerting (a match routed alone, an untimed event's
count) stays a Python step, and only for the rows that need it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokentrail.engine.batch_digest import event_ids, event_times
from tokentrail.engine.dedup import SeenEvents, dedup_key

# The typed result's columns (``BatchEngine._typed_tail``).
LINE, LOG_TYPE, CODES, COUNT, UNIT, TIMES, IDS, TEXTS, OUTPUTS = range(9)


def repeated_events(seen: SeenEvents, log_types: Sequence[str], idents: Sequence[str | None]) -> set[int]:
    """The places of the events (of these log types and ids, in order) taken before, this
    batch's earlier events included: ``SeenEvents.seen_key`` of each, as one batch of keys."""
    keys = ["" if ident is None else dedup_key(lt, ident) for lt, ident in zip(log_types, idents, strict=True)]
    return set(seen.duplicates_among(keys))


def repeats_one_by_one(seen: SeenEvents, log_types: Sequence[str], idents: Sequence[str | None]) -> list[bool]:
    """``SeenEvents.seen_key`` of each event in turn (an event without an id never repeats):
    for events between which other events are taken, so the order of the checks is kept."""
    seen_key = seen.seen_key
    return [ident is not None and seen_key(dedup_key(lt, ident)) for lt, ident in zip(log_types, idents, strict=True)]


class DigestedRows:
    """Where a typed result's digested rows are (those with a line and a unit, in row order)
    and the event of each: ``rows`` (result rows), ``firsts`` (each event's first row) and
    ``event_of`` (each digested row's event, a place in ``firsts``; ``event_at`` the same by
    result row)."""

    __slots__ = ("line", "unit", "rows", "firsts", "event_of", "event_at")

    def __init__(self, line: np.ndarray, unit: np.ndarray) -> None:
        self.line, self.unit = line, unit
        self.rows = np.flatnonzero((line >= 0) & (unit >= 0))
        at = line[self.rows]
        new = np.ones(len(self.rows), bool)
        new[1:] = at[1:] != at[:-1]
        self.firsts = self.rows[new]
        self.event_of = np.cumsum(new) - 1
        self.event_at = np.full(len(line), -1, np.int64)  # by result row
        self.event_at[self.rows] = self.event_of

    @classmethod
    def of(cls, line: pa.ChunkedArray, units: pa.ChunkedArray) -> DigestedRows:
        """From the result's line and unit columns (NULL in either: not a digested row)."""
        return cls(np.asarray(line.fill_null(-1).to_numpy(), np.int64),
                   np.asarray(units.fill_null(-1).to_numpy(), np.int64))

    def segments(self, wanted: np.ndarray) -> list[tuple[int, int]]:
        """The digested rows (as ``[start, stop)`` places in ``rows``) before each of the
        ``wanted`` rows (ascending) and after the last: the router takes each wanted row between."""
        cuts = np.searchsorted(self.rows, wanted).tolist()
        bounds = [0, *cuts, len(self.rows)]
        return list(zip(bounds[:-1], bounds[1:], strict=True))


class DigestedBatch:
    """A typed result's digested rows with their events' values: time, id and log type of
    each event (``event_times``, ``event_ids``), the digests' texts (dictionary codes into
    their distinct values, picked where a run reads them; the whole lists as Arrow, for a match
    routed alone) and their output fields.

    Texts and output fields are handed on as one Python object per distinct value of the batch
    (``dictionary_codes``, ``shared_values``): an actor's matches repeat its key and fields, and
    alerting looks each up in dicts, where an equal object is found by identity, its hash cached."""

    def __init__(self, result: pa.Table, where: DigestedRows) -> None:
        self.where = where
        firsts = pa.array(where.firsts, pa.int64())
        self.times = event_times(result.column(TIMES).take(firsts))
        self.idents = event_ids(result.column(IDS).take(firsts))
        self.log_types: list[str] = result.column(LOG_TYPE).take(firsts).to_pylist()
        texts = result.column(TEXTS).combine_chunks()
        self.text_codes, self.text_values = dictionary_codes(texts.flatten())
        # Offsets from the first row's, so that ``text_at[row] + k`` is a place in the texts.
        self.text_at = np.asarray(pc.subtract(texts.offsets, texts.offsets[0]), np.int64) if len(texts) else \
            np.zeros(1, np.int64)
        # Made in order once: runs pick a rule's rows from all over the batch, and Arrow's take
        # of text at scattered rows costs several times this one pass.
        self.outputs = shared_values(result.column(OUTPUTS).combine_chunks())
        self.texts_list = texts

    def texts_at(self, rows: np.ndarray, k: int) -> list[Any]:
        """The ``k``-th text of each of these rows' digests."""
        return self.text_values[self.text_codes[self.text_at[rows] + k]].tolist()

    def keys_at(self, rows: np.ndarray, k0: int, k1: int) -> list[tuple[Any, ...]]:
        """The texts ``k0`` to ``k1`` of each of these rows' digests as a tuple, one tuple
        object per distinct key among them."""
        if k0 == k1:
            return [()] * len(rows)
        at = self.text_at[rows]
        if k1 - k0 == 1:  # the usual one key: its codes are the key's
            distinct, inverse = np.unique(self.text_codes[at + k0], return_inverse=True)
            made = [(v,) for v in self.text_values[distinct].tolist()]
        else:
            codes = np.stack([self.text_codes[at + k] for k in range(k0, k1)], axis=1)
            distinct, inverse = np.unique(codes, axis=0, return_inverse=True)
            made = [tuple(v) for v in self.text_values[distinct].tolist()]
        keys = np.empty(len(made), object)
        keys[:] = made
        return keys[inverse.reshape(-1)].tolist()

    def row_texts(self, rows: np.ndarray) -> list[list[str]]:
        """Each of these rows' digest texts, as a list."""
        return self.texts_list.take(pa.array(rows, pa.int64())).to_pylist()

    def row_outputs(self, rows: np.ndarray) -> list[Any]:
        """Each of these rows' output fields (JSON text, or None)."""
        return self.outputs[rows].tolist()


def dictionary_codes(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Each value's code and, by code, the distinct values as Python objects (a null one too)."""
    encoded = pc.dictionary_encode(array, null_encoding="encode")
    values = np.empty(len(encoded.dictionary), object)
    values[:] = encoded.dictionary.to_pylist()
    return np.asarray(encoded.indices, np.int64), values


def shared_values(array: pa.Array) -> np.ndarray:
    """The values of ``array`` as Python objects, equal values one object (an object array)."""
    codes, values = dictionary_codes(array)
    return values[codes]


def bulk_runs(rows: np.ndarray, unit: np.ndarray, rule_of: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The rows of ``rows`` (ascending) whose unit is of a bulk rule (``rule_of[unit]``: its
    code, -1 for none), as one run of rows per rule, the rules in the order of their first row."""
    codes = rule_of[unit[rows]]
    bulk = codes >= 0
    rows, codes = rows[bulk], codes[bulk]
    if not len(rows):
        return []
    order = np.argsort(codes, kind="stable")  # each rule's rows stay ascending
    rows, codes = rows[order], codes[order]
    starts = np.flatnonzero(np.diff(codes, prepend=-1))
    runs = np.split(rows, starts[1:])
    return sorted(((int(codes[s]), run) for s, run in zip(starts.tolist(), runs, strict=True)),
                  key=lambda item: int(item[1][0]))


def run_log_types(units: np.ndarray, log_type_of: Callable[[int], str]) -> Counter[str]:
    """How many of a run's matches were of each log type (``units``: each match's unit)."""
    found, first, counts = np.unique(units, return_index=True, return_counts=True)
    order = np.argsort(first)  # as a per-row count meets them: the stats' keys keep that order
    out: Counter[str] = Counter()
    for index, count in zip(found[order].tolist(), counts[order].tolist(), strict=True):
        out[log_type_of(index)] += count
    return out


def rule_codes(units: int, bulk: Mapping[int, str]) -> tuple[np.ndarray, list[str]]:
    """Per unit index (up to ``units``), the code of its bulk rule (-1 for none), and the rule
    ids by code."""
    rules = list(dict.fromkeys(bulk.values()))
    code = {rule_id: k for k, rule_id in enumerate(rules)}
    rule_of = np.full(units + 1, -1, np.int64)
    for index, rule_id in bulk.items():
        rule_of[index] = code[rule_id]
    return rule_of, rules
