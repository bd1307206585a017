"""JSON-lines files, plain and compressed, as raw lines into the DuckDB engine's triage: the same
alerts, matches, counts, errors (in order) and dead-letter bytes as the streaming engine, with
over-long lines, malformed lines, byte-order marks, CRLF, a last line without a newline,
batches ending anywhere, and damaged or over-large compressed streams."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import pytest
import zstandard
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_json_triage import RULES, line, okta

from tokentrail import api
from tokentrail.engine import batch as batch_module
from tokentrail.engine import batch_lines
from tokentrail.engine.batch import scan_batch
from tokentrail.engine.batch_json import JsonLinesTriage
from tokentrail.errors import LogParseError
from tokentrail.sources.files import raw_jsonl
from tokentrail.sources.limits import ReadLimits

LIMIT = 160  # bytes per line in these tests: the over-long lines below are past it, the events not
COMPRESS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress,
            ".zst": lambda data: zstandard.ZstdCompressor().compress(data), "": lambda data: data}


def scans(path, limits: ReadLimits, *, strict: bool = False):
    """(streaming result, its matches, its dead letters), the same for the duckdb engine."""
    out = []
    for scan in (lambda **kw: api.scan([str(path)], RULES, workers=1, **kw), lambda **kw: scan_batch([str(path)], RULES, **kw)):
        matches: list = []
        dead = io.BytesIO()
        result = scan(on_match=matches.append, dead_letter=dead, limits=limits, strict=strict)
        out.append((result, matches, dead.getvalue()))
    return out


def assert_same_scans(path, limits: ReadLimits | None = None):
    (stream, ms, ds), (batch, mb, db) = scans(path, limits or ReadLimits(max_line_bytes=LIMIT))
    assert [(a.id, a.event_ids, a.count) for a in batch.alerts] == [(a.id, a.event_ids, a.count) for a in stream.alerts]
    assert [(m.rule_id, m.event_id, m.line) for m in mb] == [(m.rule_id, m.event_id, m.line) for m in ms]
    assert batch.stats == stream.stats
    assert [str(e) for e in batch.read_errors] == [str(e) for e in stream.read_errors]
    assert batch.events_skipped == stream.events_skipped
    assert (batch.files_skipped, batch.skipped_files) == (stream.files_skipped, stream.skipped_files)
    assert db == ds
    return stream, batch


def counting_triage(monkeypatch) -> list[int]:
    """The number of lines each triage batch was given (the triage wrapped to count them)."""
    seen: list[int] = []
    settled = JsonLinesTriage.settled

    def counted(self, lines):
        seen.append(len(lines))
        return settled(self, lines)

    monkeypatch.setattr(JsonLinesTriage, "settled", counted)
    return seen


# Raw lines (without their line ends) a file may hold.
EVENTS = [line(okta("user.session.start", uuid=f"s{i}")) for i in range(3)] + [
    line(okta(uuid="lock")), line(okta("app.oauth2.token.grant", uuid="g1")),
    line(okta("app.oauth2.token.grant", uuid="g2", actor={"alternateId": "evil@x"})),
]
BAD = [b'{"eventType": "user.session.start", "uuid": "cut"', b"not json", b"[1, 2]", b'"text"', b"",
       b"   ", b"\xef\xbb\xbf" + line(okta(uuid="bom")), b'{"uuid": "\xff"}', b'{"EVENT_TYPE": "Login"}']
LONG = [b'{"eventType": "user.session.start", "pad": "' + b"x" * n + b'"}' for n in (LIMIT, 3 * LIMIT)]


@st.composite
def files(draw):
    """A file's bytes: lines of every kind, each ended by LF or CRLF, the last one maybe not,
    maybe a byte-order mark and blank lines first."""
    kinds = st.one_of(st.sampled_from(EVENTS), st.sampled_from(BAD), st.sampled_from(LONG))
    # Ids of their own: the triage keys no event it settles, so it drops no duplicate of one (see scan_batch).
    lines = [raw.replace(b'"uuid":"', b'"uuid":"%d-' % i, 1)
             for i, raw in enumerate(draw(st.lists(kinds, min_size=1, max_size=14)))]
    ends = draw(st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=len(lines), max_size=len(lines)))
    body = b"".join(raw + end for raw, end in zip(lines, ends, strict=True))
    if draw(st.booleans()):
        body = body.rstrip(b"\r\n")  # a last line without its line end
    if body.lstrip()[:1] == b"[":
        body = EVENTS[3] + b"\n" + body  # JSON lines, not a JSON document (which the readers parse whole)
    head = draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\n\n", b"\xef\xbb\xbf \n"]))
    return head + body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(body=files(), suffix=st.sampled_from([".gz", ".gz", ".bz2", ".xz", ".zst", ""]),
       rows=st.sampled_from([1, 2, 3, 100_000]))
@example(body=LONG[1] + b"\n" + BAD[0] + b"\n" + LONG[0], suffix=".gz", rows=1)
@example(body=BAD[1] + b"\r\n" + LONG[1] + b"\r\n" + EVENTS[0], suffix=".gz", rows=100_000)
@example(body=b"\xef\xbb\xbf" + EVENTS[0] + b"\n" + b"\xef\xbb\xbf" + EVENTS[1], suffix=".gz", rows=2)
def test_generated_files_match_streaming(tmp_path_factory, monkeypatch, body, suffix, rows):
    path = tmp_path_factory.mktemp("raw") / f"okta.jsonl{suffix}"
    path.write_bytes(COMPRESS[suffix](body))
    seen = counting_triage(monkeypatch)
    monkeypatch.setattr(batch_module, "BATCH_ROWS", rows)
    assert_same_scans(path)
    # Every line that is neither empty nor over-long went through the triage (the file's own
    # byte-order mark is no part of its first line), unless the file is only white space.
    text = body.removeprefix(b"\xef\xbb\xbf")
    lines = text.split(b"\n") if text.strip() else []
    assert sum(seen) == len([raw for raw in lines if raw and len(raw) <= LIMIT])


def test_a_compressed_file_takes_the_triage(tmp_path, monkeypatch):
    late = [line(okta(uuid="late")), line(okta("user.session.start", uuid="late2"))]
    path = tmp_path / "okta.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join([*EVENTS, BAD[0], LONG[1], *late]) + b"\n"))
    seen = counting_triage(monkeypatch)
    stream, batch = assert_same_scans(path)
    assert seen == [len(EVENTS) + 1 + len(late)]
    assert stream.stats.matches >= 4 and len(stream.read_errors) == 2


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_a_damaged_gzip_stream_is_reported_after_the_events_before_the_damage(tmp_path, monkeypatch, cut):
    body = b"\n".join(line(okta("user.session.start", uuid=f"e{i}", published=f"2026-01-01T00:{i % 60:02d}:00Z"))
                      for i in range(400)) + b"\n"
    packed = gzip.compress(body)
    path = tmp_path / "okta.jsonl.gz"
    path.write_bytes(packed[: int(len(packed) * cut)])
    monkeypatch.setattr(batch_module, "BATCH_ROWS", 64)
    stream, batch = assert_same_scans(path)
    assert "unreadable after" in str(batch.read_errors[-1])
    assert 0 < batch.stats.events < 400


def test_a_member_expanding_past_its_limit_ends_where_streaming_ends(tmp_path):
    body = b"\n".join(line(okta("user.session.start", uuid=f"e{i}")) for i in range(200)) + b"\n"
    path = tmp_path / "okta.jsonl.gz"
    path.write_bytes(gzip.compress(body))
    stream, batch = assert_same_scans(path, ReadLimits(max_line_bytes=LIMIT, max_expanded_bytes=len(body) // 2))
    assert "expands past the" in str(batch.read_errors[-1])
    assert 0 < batch.stats.events < 200


def test_over_long_lines_are_reported_in_line_order_in_strict_mode_too(tmp_path):
    path = tmp_path / "okta.jsonl.gz"
    limits = ReadLimits(max_line_bytes=LIMIT)
    for first in (LONG[1], BAD[0]):  # the first bad line stops both scans, whichever it is
        path.write_bytes(gzip.compress(b"\n".join([EVENTS[0], first, LONG[0] if first is BAD[0] else BAD[0]]) + b"\n"))
        with pytest.raises(LogParseError) as streamed:
            api.scan([str(path)], RULES, workers=1, strict=True, limits=limits)
        with pytest.raises(LogParseError) as batched:
            scan_batch([str(path)], RULES, strict=True, limits=limits)
        assert str(batched.value) == str(streamed.value)
        assert str(batched.value).startswith(f"{path}:2: ")


def test_which_files_are_raw_json_lines(tmp_path):
    cases = {"a.jsonl.gz": (gzip.compress(b'{"a": 1}\n'), True), "b.ndjson.zst": (COMPRESS[".zst"](b"{}\n"), True),
             "c.jsonl.gz": (gzip.compress(b"\xef\xbb\xbf \n [{}]"), False),  # a JSON array: a document
             "d.json.gz": (gzip.compress(b'{"a": 1}\n'), False), "e.csv.gz": (gzip.compress(b"a,b\n"), False),
             "f.jsonl.gz": (b"not gzip at all", True),  # reading it reports the failure, as streaming does
             "g.log": (b"{}\n", True), "h.tar.gz": (b"", False)}
    for name, (data, _) in cases.items():
        (tmp_path / name).write_bytes(data)
    assert {name: raw_jsonl(tmp_path / name) for name in cases} == {name: want for name, (_, want) in cases.items()}
    assert raw_jsonl("-") is False and raw_jsonl(tmp_path) is False


def test_a_file_that_is_not_gzip_reports_as_streaming(tmp_path):
    path = tmp_path / "okta.jsonl.gz"
    path.write_bytes(b"not gzip at all\n")
    stream, batch = assert_same_scans(path)
    assert len(batch.read_errors) == 1


def test_many_over_long_lines_hand_the_batch_on_early(tmp_path, monkeypatch):
    # Each held line may keep a spool file open: a batch holds at most MAX_HELD of them.
    monkeypatch.setattr(batch_lines, "MAX_HELD", 2)
    body = b"".join(line(okta("user.session.start", uuid=f"e{i}")) + b"\n" + LONG[i % 2] + b"\n" for i in range(7))
    path = tmp_path / "okta.jsonl.gz"
    path.write_bytes(gzip.compress(body))
    seen = counting_triage(monkeypatch)
    stream, _ = assert_same_scans(path)
    assert len(stream.read_errors) == 7
    assert sum(seen) == 7 and len(seen) >= 3
