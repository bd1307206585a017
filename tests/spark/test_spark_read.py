"""Reading the input in the Spark executors (``engine/spark_read.py``): the pieces an executor
reads give the lines, line numbers and errors of one read of the whole file, and a scan whose
files are cut into many pieces (and read over several queries) gives the streaming engine's
alerts, matches, counts, read errors (file:line) and dead-letter bytes."""

from __future__ import annotations

import gzip

import orjson
import pyarrow as pa
import pytest

from tokentrail import api
from tokentrail.engine.spark_read import PIECE_SCHEMA, Summary, pieces_of, read_pieces
from tokentrail.errors import LogParseError
from tokentrail.rules.ir import Cmp
from tokentrail.rules.model import LogSource, Rule
from tokentrail.sources.files import LogReader, ReadLimits

LIMITS = ReadLimits(max_line_bytes=400)


def _okta(i: int, kind: str = "user.session.start") -> bytes:
    return orjson.dumps({"eventType": kind, "published": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
                         "uuid": f"u{i}", "actor": {"alternateId": f"a{i % 3}@x.io"}})


def _mixed_lines() -> list[bytes]:
    """Matches, misses, blank and whitespace lines, malformed and odd JSON, invalid UTF-8, and
    two lines past ``LIMITS`` (one at a cut, whatever the range size)."""
    lines = []
    for i in range(40):
        lines.append(_okta(i, "user.session.start" if i % 3 else "app.oauth2.token.grant"))
        if i % 7 == 3:
            lines += [b"", b"   ", b"not json", b"[1, 2]"]
        if i % 11 == 5:
            lines += [b'{"eventType": "user.session.start", "uuid": "x' + b"y" * 500 + b'"}', b'{"uuid": "\xff"}',
                      b'{"eventType": "user.session.start", "published": NaN, "uuid": "n"}']
    return lines


@pytest.fixture()
def mixed(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(_mixed_lines()))  # a BOM, and no newline at the end
    return path


def _executor_read(path, range_bytes: int, limits: ReadLimits = LIMITS):
    """What the executors' reads of ``path`` in ranges of ``range_bytes`` give, put together as
    the driver puts them: (absolute line, text) per row, and the errors as file:line text."""
    cut = pieces_of(path, range_bytes)
    batch = pa.RecordBatch.from_pydict({
        "piece": pa.array(range(len(cut)), pa.int32()), "path": [str(path)] * len(cut),
        "start": pa.array([c[0] for c in cut], pa.int64()), "end": pa.array([c[1] for c in cut], pa.int64()),
        "whole": [c[2] for c in cut]})
    assert [f.name for f in batch.schema] == [c.split()[0] for c in PIECE_SCHEMA.split(", ")]
    out = pa.Table.from_batches(list(read_pieces(limits, True)(iter([batch]))))
    rows, errors, spans, base = [], [], [], 0
    for piece in range(len(cut)):
        mine = out.filter(pa.compute.equal(out.column("piece"), piece))
        notes = [n for n in mine.column("note").to_pylist() if n is not None]
        assert len(notes) == 1  # one summary per piece
        summary = Summary.from_json(notes[0])
        for n, j in zip(mine.column("n").to_pylist(), mine.column("j").to_pylist(), strict=True):
            # A line of spaces is blank to every reader; a range holding nothing else the line
            # splitter counts without handing its line on.
            if j is not None and j.strip():
                rows.append((base + n, j))
        errors += [f"{path}{label}:{base + line}: {message}" for _, label, line, message in summary.errors]
        spans += summary.spans
        base += summary.lines
    return cut, rows, errors, spans, base


def test_pieces_of_a_file_read_as_one_read_of_it(mixed):
    """Cut at every size, down to a byte (each cut then falls inside a line and runs on to its
    end), the pieces give the lines, numbers and over-long-line errors of one read of the
    whole file, and where each over-long line's bytes lie."""
    data = mixed.read_bytes()
    whole = _executor_read(mixed, 1 << 30)
    assert len(whole[0]) == 1
    reader = LogReader(limits=LIMITS)
    expected = [(n, line) for first, batch in reader.range_lines(mixed, 0, len(data))
                for n, line in enumerate(batch, first) if line.strip()]
    assert whole[1] == expected and whole[4] == reader.lines_read
    assert whole[2] == [str(e) for e in reader.stats.errors] and len(whole[2]) == 4
    for size in (700, 97, 1):
        cut, rows, errors, spans, lines = _executor_read(mixed, size)
        assert len(cut) > 3
        assert all(start == 0 or data[start - 1:start] == b"\n" for start, _, _ in cut)  # a cut ends a line
        assert (rows, errors, lines) == whole[1:3] + (whole[4],)
        assert [data[o:o + n] for o, n in spans] == [line for line in _mixed_lines() if len(line) > 400]


def test_a_whole_file_piece_reads_as_the_readers_read_it(tmp_path):
    """A .gz file (which cannot be cut) is one piece, read by the readers themselves: its events
    re-serialised with their line numbers, its errors placed among them."""
    path = tmp_path / "day.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join([_okta(1), b"{broken", _okta(2), b"", _okta(3)]) + b"\n"))
    assert pieces_of(path, 10) == [(0, path.stat().st_size, True)]
    batch = pa.RecordBatch.from_pydict({"piece": pa.array([0], pa.int32()), "path": [str(path)],
                                        "start": pa.array([0], pa.int64()),
                                        "end": pa.array([path.stat().st_size], pa.int64()), "whole": [True]})
    out = pa.Table.from_batches(list(read_pieces(LIMITS, False)(iter([batch]))))
    events = [(n, orjson.loads(j)["uuid"]) for n, j in zip(out.column("n").to_pylist(), out.column("j").to_pylist(),
                                                           strict=True) if j is not None]
    assert events == [(1, "u1"), (3, "u2"), (5, "u3")]
    summary = Summary.from_json(next(n for n in out.column("note").to_pylist() if n is not None))
    assert (summary.files, summary.events, summary.skipped) == (1, 3, 1)
    (key, label, line, message), = summary.errors
    assert (key, label, line) == (1, "", 2) and message.startswith("malformed JSON")


RULE = Rule(id="start", title="start", format="sigma", logsource=LogSource(product="okta"),
            logic=Cmp("eventType", "eq", ("user.session.start",)))
GRANT = Rule(id="grant", title="grant", format="sigma", logsource=LogSource(product="okta"),
             logic=Cmp("eventType", "eq", ("app.oauth2.token.grant",)))


def _inputs(tmp_path, mixed):
    """The mixed file beside an empty file, a BOM-only one, blank lines only, a .gz with a bad
    line, a CSV and a JSON array with a bad element: the executors read them all."""
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf")
    (tmp_path / "blank.jsonl").write_bytes(b"\n  \n\n")
    (tmp_path / "more.jsonl.gz").write_bytes(gzip.compress(b"\n".join([_okta(90), b"{bad", _okta(91)])))
    (tmp_path / "array.json").write_bytes(b"[" + _okta(92) + b", {oops}, " + _okta(93) + b"]")
    return [str(mixed), str(tmp_path / "empty.jsonl"), str(tmp_path / "bom.jsonl"), str(tmp_path / "blank.jsonl"),
            str(tmp_path / "more.jsonl.gz"), str(tmp_path / "array.json")]


def _same(paths, spark, dead_letter: bool, **spark_kwargs):
    from spark.test_spark_engine import assert_same

    return assert_same(paths, [RULE, GRANT], spark, limits=LIMITS, dead_letter=dead_letter, **spark_kwargs)[0]


def test_executor_reads_give_the_streaming_results(spark, tmp_path, mixed):
    """One piece per file, one query: the executors read every input, and malformed lines,
    lines past the limit, a BOM, empty files, a .gz and a JSON array are reported with the
    streaming engine's file:line, in its order."""
    paths = _inputs(tmp_path, mixed)
    stream = _same(paths, spark, dead_letter=False)
    assert stream.stats.matches > 30 and len(stream.read_errors) >= 10
    assert any(f"{mixed}:" in str(e) and "longer than" in str(e) for e in stream.read_errors)


def test_many_small_pieces_over_several_queries_give_the_streaming_results(spark, tmp_path, mixed):
    """Ranges of 97 bytes (every cut inside a line), queries of at most 1,500 bytes, and a
    dead-letter file (the .gz and the array are then read by the driver): the same matches,
    line numbers, errors and dead-letter bytes as streaming."""
    _same(_inputs(tmp_path, mixed), spark, dead_letter=True, range_bytes=97, query_bytes=1500)


def test_strict_stops_at_the_first_bad_line_an_executor_read(spark, tmp_path, mixed):
    from tokentrail.engine.spark import scan_spark

    with pytest.raises(LogParseError) as streaming:
        api.scan([str(mixed)], [RULE], workers=1, strict=True, limits=LIMITS)
    with pytest.raises(LogParseError) as on_spark:
        scan_spark([str(mixed)], [RULE], session=spark, strict=True, limits=LIMITS, range_bytes=300)
    assert str(on_spark.value) == str(streaming.value) and f"{mixed}:" in str(on_spark.value)


def test_parquet_is_read_in_the_executors_and_gives_the_duckdb_engines_alerts(spark, tmp_path):
    """A Parquet file is one piece the executors read with Spark's reader (its footer's rows
    known to the driver), and the alerts and matches are the DuckDB engine's (which reads its
    typed columns)."""
    import pyarrow.parquet as pq

    from tokentrail.engine.batch import scan_batch
    from tokentrail.engine.spark import SparkEngine, scan_spark

    events = [orjson.loads(_okta(i, "app.oauth2.token.grant" if i % 4 == 0 else "user.session.start"))
              for i in range(30)]
    path = tmp_path / "okta.parquet"
    pq.write_table(pa.Table.from_pylist(events), path)
    seen_batch: list = []
    seen_spark: list = []
    batch = scan_batch([str(path)], [GRANT], on_match=seen_batch.append)
    result = scan_spark([str(path)], [GRANT], session=spark, on_match=seen_spark.append)
    assert [(a.id, a.event_ids) for a in result.alerts] == [(a.id, a.event_ids) for a in batch.alerts]
    assert [(m.event_id, m.line) for m in seen_spark] == [(m.event_id, m.line) for m in seen_batch]
    assert len(seen_spark) == 8
    engine = SparkEngine([GRANT], spark)
    assert [(p.rows, p.whole) for p in engine._executor_pieces(path, LogReader())] == [(30, True)]
