"""A line past the read limit never sits in a worker's memory or crosses to the parent, and the
dead-letter file of a parallel scan is byte for byte the one-process scan's."""

import io
import pickle
import tracemalloc

import orjson
import pytest

from tokentrail import load_rules, scan
from tokentrail.content import default_rule_paths
from tokentrail.engine import StreamingEngine, parallel
from tokentrail.simulate import generate
from tokentrail.sources.files import line_ranges
from tokentrail.sources.limits import ReadLimits

LIMIT = 64 << 10
HUGE = 1 << 20  # the over-size line: sixteen times the limit


@pytest.fixture(scope="module")
def rules():
    return load_rules(default_rule_paths())


@pytest.fixture(scope="module")
def log_file(tmp_path_factory):
    """Events with, in order: a short bad line, a 1 MiB line that is not JSON, one that is an
    event, an event of no known log type, and a 1 MiB line as the file's last, with no newline
    after it."""
    lines = [orjson.dumps(e) for e in generate(["all"], events=1200, seed=5)]
    lines.insert(50, b"{short and broken")
    lines.insert(300, b"A" * (HUGE // 2) + b"\xff\x00" + b"B" * (HUGE // 2))
    lines.insert(700, b'{"pad": "' + b"p" * HUGE + b'"}')
    lines.append(b'{"foo":  1, "bar": "\\u00e9"}')  # unknown: kept as one-process keeps it
    body = b"\n".join(lines) + b"\n" + b"Z" * HUGE
    path = tmp_path_factory.mktemp("dead") / "big.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + body)  # a BOM shifts every offset of the first range
    return path


def dead_letter(path, rules, workers):
    out = io.BytesIO()
    result = scan([path], rules, workers=workers, min_parallel_bytes=1, dead_letter=out,
                  limits=ReadLimits(max_line_bytes=LIMIT))
    return result, out.getvalue()


def test_two_workers_write_the_dead_letter_bytes_of_one_process(log_file, rules, monkeypatch):
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 128 << 10)  # several ranges, one per long line at least
    monkeypatch.setattr(parallel, "COPY_BYTES", 100_000)  # the copy takes several pieces
    one, one_dead = dead_letter(log_file, rules, 1)
    two, two_dead = dead_letter(log_file, rules, 2)
    assert len(line_ranges(log_file, 128 << 10)) > 4
    assert [str(e) for e in two.read_errors] == [str(e) for e in one.read_errors]
    assert [e.line for e in one.read_errors] == [51, 301, 701, 1205]
    assert two.stats.events == one.stats.events == 1201 and one.stats.unknown == two.stats.unknown != {}
    assert len(two_dead) == len(one_dead) > 3 * HUGE
    assert two_dead == one_dead
    assert one_dead.count(b"\n") == 5 and one_dead.endswith(b"Z" * HUGE + b"\n")


def test_a_workers_result_holds_no_bytes_of_the_long_line(log_file, rules, monkeypatch):
    engine = StreamingEngine(rules.rules)
    assert engine.prefilter  # built in the parent before workers fork, as api.scan does
    monkeypatch.setattr(parallel, "_ENGINE", engine)
    monkeypatch.setattr(parallel, "_LIMITS", ReadLimits(max_line_bytes=LIMIT))
    data = log_file.read_bytes()
    at = data.index(b'{"pad"')
    ranges = line_ranges(log_file, 128 << 10)
    start, end = next((s, e) for s, e in ranges if s <= at < e)
    # Matchers and digests are compiled on first use: warm them on another range, so that the
    # peak measures what the long line's range holds, not how many rules the pack has.
    warm = next((s, e) for s, e in ranges if e <= start)
    parallel._scan_range((str(log_file), *warm, True, False, True))
    tracemalloc.start()
    try:
        result = parallel._scan_range((str(log_file), start, end, True, False, True))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    spans = [kept for kept in result.dead if kept.__class__ is tuple]
    assert spans == [(at, HUGE + len(b'{"pad": ""}'))]
    assert all(len(kept) <= LIMIT for kept in result.dead if kept.__class__ is bytes)
    assert len(result.hits) < LIMIT and len(pickle.dumps(result.keys)) < LIMIT and result.raws is None
    assert peak < HUGE // 2, f"the worker held {peak} bytes at its peak"


def test_without_a_dead_letter_file_no_span_is_reported(log_file, rules, monkeypatch):
    monkeypatch.setattr(parallel, "_ENGINE", StreamingEngine(rules.rules))
    monkeypatch.setattr(parallel, "_LIMITS", ReadLimits(max_line_bytes=LIMIT))
    size = log_file.stat().st_size
    result = parallel._scan_range((str(log_file), 0, size, False, False, True))
    assert result.dead == [] and result.skipped == 4
    assert [line for line, _ in result.errors] == [51, 301, 701, 1205]


def test_range_lines_reports_where_each_long_line_lies(tmp_path):
    from tokentrail.sources.files import LogReader

    body = b"x" * 70_000 + b"\n" + b"{}\n" + b"  " + b"y" * 200_000 + b"\n\n" + b"z" * 65_537
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + body)
    spans = []
    reader = LogReader(dead_letter=io.BytesIO(), limits=ReadLimits(max_line_bytes=LIMIT))
    lines = [(n, raw) for first, batch in reader.range_lines(path, 0, len(body) + 3, spans=lambda *s: spans.append(s))
             for n, raw in enumerate(batch, first)]
    data = path.read_bytes()
    assert [data[at:at + length] for at, length in spans] == [b"x" * 70_000, b"  " + b"y" * 200_000, b"z" * 65_537]
    assert reader.dead_letter.getvalue() == b""  # nothing of them passed through the reader
    assert [n for n, raw in lines if raw] == [2] and reader.lines_read == 5
