"""File readers: every supported shape, bad lines counted with file:line, strict mode, dead letters."""

import gzip
import io
import json

import pytest

from tokentrail.errors import LogParseError
from tokentrail.sources.files import LogReader

EVENTS = [{"uuid": f"e{i}", "eventType": "user.session.start", "n": i} for i in range(3)]


def read(paths, **kw):
    reader = LogReader(**kw)
    return list(reader.records(paths)), reader.stats


def test_jsonl_with_a_bad_line_is_counted_and_reported(tmp_path):
    p = tmp_path / "okta.jsonl"
    p.write_text(json.dumps(EVENTS[0]) + "\n{not json\n\n" + json.dumps(EVENTS[1]) + "\n[1,2]\n")
    records, stats = read([p])
    assert [r[0]["uuid"] for r in records] == ["e0", "e1"]
    assert [r[2] for r in records] == [1, 4]
    assert stats.events == 2 and stats.skipped == 2
    assert str(stats.errors[0]).startswith(f"{p}:2: malformed JSON")
    assert str(stats.errors[1]).startswith(f"{p}:5: not a JSON object")


def test_strict_makes_a_bad_line_fatal(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\nbroken\n')
    with pytest.raises(LogParseError, match=r"x.jsonl:2"):
        read([p], strict=True)


def test_dead_letter_keeps_bad_lines(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\nbroken line\n')
    dead = io.BytesIO()
    read([p], dead_letter=dead)
    assert dead.getvalue() == b"broken line\n"


def test_json_array_and_wrapped_array_and_es_hits(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(EVENTS, indent=2))
    (tmp_path / "b.json").write_text(json.dumps({"nextPage": None, "records": EVENTS}, indent=1))
    hits = {"hits": {"total": 3, "hits": [{"_id": str(i), "_source": e} for i, e in enumerate(EVENTS)]}}
    (tmp_path / "c.json").write_text(json.dumps(hits))
    records, stats = read([tmp_path])
    assert [r[0]["uuid"] for r in records] == ["e0", "e1", "e2"] * 3
    assert stats.files == 3 and stats.skipped == 0


def test_single_pretty_printed_object(tmp_path):
    p = tmp_path / "one.json"
    p.write_text(json.dumps({"uuid": "x", "actor": {"id": 1}}, indent=2))
    records, _ = read([p])
    assert records[0][0]["actor"] == {"id": 1}


def test_gzip_and_recursive_directories(tmp_path):
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    with gzip.open(sub / "okta.jsonl.gz", "wt") as fh:
        fh.write("\n".join(json.dumps(e) for e in EVENTS))
    (tmp_path / "notes.txt").write_text("ignored")
    records, stats = read([tmp_path])
    assert len(records) == 3 and stats.files == 1


def test_csv_rows_become_events_without_empty_columns(tmp_path):
    p = tmp_path / "elf.csv"
    p.write_text('"EVENT_TYPE","USER_ID","CLIENT_ID"\n"OAuthTokenRevoked","005x",""\n"API","005y","3MVG"\n')
    records, _ = read([p])
    assert records[0][0] == {"EVENT_TYPE": "OAuthTokenRevoked", "USER_ID": "005x"}
    assert records[1][0]["CLIENT_ID"] == "3MVG" and records[1][2] == 3


def test_missing_file_is_an_error_not_a_crash(tmp_path):
    records, stats = read([tmp_path / "nope.jsonl"])
    assert records == [] and stats.skipped == 1 and "cannot open" in str(stats.errors[0])


def test_progress_reports_all_bytes(tmp_path):
    p = tmp_path / "big.jsonl"
    p.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(10000)))
    seen = []
    read([p], progress=seen.append)
    assert sum(seen) == p.stat().st_size


def test_json_suffix_with_long_json_lines_is_read_as_lines(tmp_path):
    p = tmp_path / "long.json"
    p.write_text("".join(json.dumps({"uuid": f"e{i}", "pad": "x" * 20000}) + "\n" for i in range(3)))
    records, stats = read([p])
    assert [r[0]["uuid"] for r in records] == ["e0", "e1", "e2"] and stats.skipped == 0


def test_damaged_gzip_is_reported_and_the_next_file_is_read(tmp_path):
    good = tmp_path / "b.jsonl"
    good.write_text(json.dumps(EVENTS[0]) + "\n")
    whole = gzip.compress("".join(json.dumps(e) + "\n" for e in EVENTS * 2000).encode())
    (tmp_path / "a.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "c.jsonl.gz").write_bytes(b"not gzip at all\n")
    records, stats = read([tmp_path])
    assert records[-1][1].endswith("b.jsonl")
    messages = [str(e) for e in stats.errors]
    assert any("a.jsonl.gz: unreadable after" in m and "EOFError" in m for m in messages)
    assert any("c.jsonl.gz: unreadable after 0 events" in m for m in messages)


def test_long_csv_cells_are_read(tmp_path):
    p = tmp_path / "elf.csv"
    p.write_text('"EVENT_TYPE","QUERY"\n"API","' + "q" * 300_000 + '"\n')
    records, stats = read([p])
    assert len(records[0][0]["QUERY"]) == 300_000 and stats.skipped == 0


class _Pipe(io.RawIOBase):
    """A read-only stream that, like a pipe, cannot tell or seek."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self.data.readinto(buffer)

    def tell(self) -> int:
        raise OSError(29, "Illegal seek")


def test_stdin_with_progress_does_not_need_to_seek(monkeypatch):
    data = "".join(json.dumps({"i": i}) + "\n" for i in range(5000)).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(_Pipe(data))))
    seen = []
    records, _ = read(["-"], progress=seen.append)
    assert len(records) == 5000


def test_a_jsonl_file_holding_an_array_is_not_split(tmp_path):
    from tokentrail.sources.files import splittable

    arr = tmp_path / "arr.jsonl"
    arr.write_text(json.dumps(EVENTS, indent=1))
    lines = tmp_path / "lines.jsonl"
    lines.write_text(json.dumps(EVENTS[0]) + "\n")
    assert not splittable(arr) and splittable(lines)
    assert len(read([arr])[0]) == 3


def test_range_lines_bound_long_lines_and_keep_numbering(tmp_path):
    from tokentrail.sources.files import line_ranges
    from tokentrail.sources.limits import ReadLimits

    p = tmp_path / "big.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(EVENTS[0]).encode() + b"\n" + b"x" * 300_000 + b"\n\n"
                  + json.dumps(EVENTS[1]).encode() + b"\n")
    dead = io.BytesIO()
    reader = LogReader(limits=ReadLimits(max_line_bytes=100_000), dead_letter=dead)
    ranges = line_ranges(p, 1000)
    assert ranges[0][1] == len(json.dumps(EVENTS[0])) + 4 + 300_001  # ran on to the end of the long line
    events, base = [], 0
    for start, end in ranges:
        for first, batch in reader.range_lines(p, start, end):
            events += [(json.loads(line)["uuid"], base + n) for n, line in enumerate(batch, first) if line]
        base += reader.lines_read
    assert events == [("e0", 1), ("e1", 4)] and base == 4
    assert [str(e) for e in reader.stats.errors] == [f"{p}:2: line longer than the 100000-byte limit"]
    assert dead.getvalue() == b"x" * 300_000 + b"\n"
