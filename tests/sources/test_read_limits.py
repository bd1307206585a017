"""Memory is bounded by ReadLimits, not by the input: an over-size record is one error, the rest
of the file and the other files go on, and the read never holds the over-size record."""

import bz2
import gzip
import json
import tracemalloc

import pytest

from tokentrail.errors import ConfigError
from tokentrail.sources.files import LogReader
from tokentrail.sources.limits import MiB, ReadLimits

A = {"uuid": "a", "eventType": "user.session.start"}
B = {"uuid": "b", "eventType": "user.session.end"}
KiB = 1024
SMALL = ReadLimits(max_line_bytes=256 * KiB, max_cell_bytes=256 * KiB, max_document_bytes=256 * KiB,
                   max_expanded_bytes=64 * MiB)


def read_peak(paths, keep=True, **kw):
    """Records (or, without ``keep``, how many and the last), stats and the peak of Python
    allocations during the read."""
    reader = LogReader(**kw)
    tracemalloc.start()
    try:
        if keep:
            records = list(reader.records(paths))
        else:
            count, last = 0, None
            for record in reader.records(paths):
                count, last = count + 1, record
            records = (count, last)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return records, reader.stats, peak


def test_eight_mib_line_in_a_gzip_is_one_error_and_never_held(tmp_path):
    p = tmp_path / "a.jsonl.gz"
    big = b'{"uuid": "big", "pad": "' + b"x" * (8 * MiB) + b'"}'
    p.write_bytes(gzip.compress(json.dumps(A).encode() + b"\n" + big + b"\n" + json.dumps(B).encode() + b"\n"))
    (tmp_path / "b.jsonl").write_text(json.dumps(A) + "\n")
    with open(tmp_path / "dead.bin", "wb") as dead:  # a file: what the dead letter holds is not counted
        records, stats, peak = read_peak([tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl"], limits=SMALL,
                                         dead_letter=dead)
    assert [(r[0]["uuid"], r[1].rsplit("/", 1)[1], r[2]) for r in records] == [
        ("a", "a.jsonl.gz", 1), ("b", "a.jsonl.gz", 3), ("a", "b.jsonl", 1)]
    assert stats.skipped == 1 and str(stats.errors[0]) == f"{p}:2: line longer than the {256 * KiB}-byte limit"
    assert (tmp_path / "dead.bin").read_bytes() == big + b"\n"  # kept whole, streamed through
    assert peak < 4 * MiB, peak  # half the line: it was never held


def test_over_size_line_at_the_end_without_newline(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_bytes(json.dumps(A).encode() + b"\n" + b"y" * (3 * MiB))
    records, stats, _ = read_peak([p], limits=SMALL)
    assert len(records) == 1 and stats.skipped == 1 and stats.errors[0].line == 2


def test_json_gz_of_a_bracket_and_spaces_does_not_grow(tmp_path):
    p = tmp_path / "spaces.json.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(b"[")
        for _ in range(40):
            fh.write(b" " * MiB)
    (tmp_path / "z.jsonl").write_text(json.dumps(B) + "\n")
    records, stats, peak = read_peak([tmp_path], limits=ReadLimits(max_document_bytes=MiB))
    assert [r[0]["uuid"] for r in records] == ["b"]
    assert stats.skipped == 1 and "JSON array not closed" in str(stats.errors[0])
    assert peak < 6 * MiB, peak


def test_big_array_is_read_element_by_element(tmp_path):
    p = tmp_path / "big.json"
    events = [dict(A, uuid=f"e{i}", pad="p" * 200) for i in range(30000)]  # ~8 MB
    p.write_bytes(json.dumps(events).encode())
    (count, last), stats, peak = read_peak([p], keep=False)
    assert count == 30000 and last[0]["uuid"] == "e29999" and last[2] == 30000 and stats.skipped == 0
    # Parsed whole, the document would take about eight times its size; read element by element,
    # a few reads of 1 MiB, whatever the size.
    assert peak < 6 * MiB, peak


@pytest.mark.parametrize("shape", ["records", "hits"])
def test_big_wrapper_objects_are_read_element_by_element(tmp_path, shape):
    p = tmp_path / "big.json"
    events = [dict(A, uuid=f"e{i}", pad="p" * 200) for i in range(30000)]
    doc = {"nextPage": None, "records": events} if shape == "records" else \
        {"took": 3, "hits": {"total": 30000, "hits": [{"_id": str(i), "_source": e} for i, e in enumerate(events)]}}
    p.write_bytes(json.dumps(doc).encode())
    (count, last), stats, peak = read_peak([p], keep=False)
    assert count == 30000 and last[0]["uuid"] == "e29999" and stats.skipped == 0
    assert peak < 6 * MiB, peak


def test_over_size_element_is_one_error_and_the_array_goes_on(tmp_path):
    p = tmp_path / "arr.json"
    big = {"uuid": "big", "pad": "x" * (8 * MiB), "nested": [{"a": "]"}]}
    p.write_text(json.dumps([A, big, B]))
    with open(tmp_path / "dead.bin", "wb") as dead:
        records, stats, peak = read_peak([p], limits=SMALL, dead_letter=dead)
    assert [r[0]["uuid"] for r in records] == ["a", "b"]
    assert stats.skipped == 1 and "element 2 longer than the" in str(stats.errors[0])
    assert (tmp_path / "dead.bin").read_bytes() == json.dumps(big).encode() + b"\n"
    assert peak < 6 * MiB, peak  # the 8 MiB element was never held


def test_over_size_single_document_is_one_error(tmp_path):
    p = tmp_path / "one.json"
    p.write_text(json.dumps({"uuid": "x", "pad": "x" * (3 * MiB)}, indent=2))
    (tmp_path / "two.json").write_text(json.dumps(B))
    records, stats, _ = read_peak([tmp_path], limits=SMALL)
    assert [r[0]["uuid"] for r in records] == ["b"]
    assert stats.skipped == 1 and "longer than the" in str(stats.errors[0])


def test_over_size_csv_cell_is_one_error(tmp_path):
    p = tmp_path / "elf.csv"
    limits = ReadLimits(max_cell_bytes=1000)
    p.write_text('"EVENT_TYPE","QUERY"\n"API","' + "q" * 5000 + '"\n"API","short"\n')
    records, stats, _ = read_peak([p], limits=limits)
    assert [r[0]["QUERY"] for r in records] == ["short"]
    assert stats.skipped == 1 and str(stats.errors[0]) == f"{p}:2: CSV cell longer than the 1000-byte limit"


def test_eight_mib_csv_cell_on_one_line_is_never_held(tmp_path):
    p = tmp_path / "elf.csv.bz2"
    p.write_bytes(bz2.compress(b'"EVENT_TYPE","QUERY"\n"API","' + b"q" * (8 * MiB) + b'"\n"API","short"\n'))
    records, stats, peak = read_peak([p], limits=SMALL)
    assert [r[0]["QUERY"] for r in records] == ["short"]
    assert stats.skipped == 1 and stats.errors[0].line == 2
    assert peak < 4 * MiB, peak


def test_quote_never_closed_stops_at_the_row_limit(tmp_path):
    p = tmp_path / "elf.csv"
    rows = "".join(f"free text {i}\n" for i in range(2000))  # could each be more of the open cell
    p.write_text('"EVENT_TYPE","QUERY"\n"API","unclosed\n' + rows)
    records, stats, _ = read_peak([p], limits=ReadLimits(max_line_bytes=4096))
    assert stats.skipped == 1 and stats.errors[0].line == 2
    assert "CSV row longer than the 4096-byte limit" in str(stats.errors[0])
    # The row ends where it passed the limit; from there on each line is read as a row again.
    assert records[0][0] == {"EVENT_TYPE": records[0][0]["EVENT_TYPE"]} and records[-1][0]["EVENT_TYPE"] == "free text 1999"
    assert records[0][2] + len(records) - 1 == 2002


def test_compressed_member_expanding_past_the_limit_stops_there(tmp_path):
    p = tmp_path / "bomb.jsonl.gz"
    line = json.dumps(A).encode() + b"\n"
    p.write_bytes(gzip.compress(line * (10 * MiB // len(line))))
    (tmp_path / "next.jsonl").write_text(json.dumps(B) + "\n")
    records, stats, _ = read_peak([tmp_path], limits=ReadLimits(max_expanded_bytes=MiB))
    from_bomb = [r for r in records if r[1] == str(p)]
    assert 0 < len(from_bomb) <= MiB // len(line)
    assert records[-1][0]["uuid"] == "b"
    assert any("expands past the 1048576-byte limit" in str(e) for e in stats.errors)


def test_limits_must_be_positive():
    with pytest.raises(ConfigError, match="max_line_bytes"):
        ReadLimits(max_line_bytes=0)
