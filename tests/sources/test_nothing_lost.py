"""Readers lose nothing quietly: every record is read or reported, with its line and bytes."""

import gzip
import io
import json

from tokentrail.sources.files import LogReader

A = {"uuid": "a", "eventType": "user.session.start"}
B = {"uuid": "b", "eventType": "user.session.end"}
C = {"uuid": "c", "eventType": "app.oauth2.token.grant"}


def read(paths, **kw):
    reader = LogReader(**kw)
    return list(reader.records(paths)), reader.stats


def uuids(records):
    return [r[0]["uuid"] for r in records]


def test_wrapper_array_with_a_null_reads_the_events_and_reports_the_element(tmp_path):
    p = tmp_path / "page.json"
    p.write_text(json.dumps({"data": [A, B, None]}, indent=2))
    dead = io.BytesIO()
    records, stats = read([p], dead_letter=dead)
    assert uuids(records) == ["a", "b"]
    assert stats.skipped == 1
    assert "element 3 is not a JSON object" in str(stats.errors[0])
    assert str(stats.errors[0]).startswith(f"{p}:")
    assert dead.getvalue() == b"null\n"


def test_one_line_wrapper_with_a_bad_element_still_reads_the_rest(tmp_path):
    p = tmp_path / "page.json"
    p.write_text('{"records": [' + json.dumps(A) + ', 7, ' + json.dumps(B) + "]}")
    records, stats = read([p])
    assert uuids(records) == ["a", "b"] and stats.skipped == 1
    assert "element 2 is not a JSON object" in str(stats.errors[0])


def test_unterminated_csv_quote_costs_one_row(tmp_path):
    p = tmp_path / "elf.csv"
    p.write_text('"EVENT_TYPE","USER_ID"\n"API","005a"\n"API","005b\n"Login","005c"\n"API","005d"\n')
    dead = io.BytesIO()
    records, stats = read([p], dead_letter=dead)
    assert [r[0]["USER_ID"] for r in records] == ["005a", "005c", "005d"]
    assert [r[2] for r in records] == [2, 4, 5]
    assert stats.skipped == 1 and str(stats.errors[0]).startswith(f"{p}:3: unterminated quoted field")
    assert dead.getvalue() == b'"API","005b\n'


def test_quote_closed_mid_cell_is_a_reported_row(tmp_path):
    p = tmp_path / "elf.csv"
    p.write_text('"EVENT_TYPE","USER_ID"\n"API,"005b"\n"Login","005c"\n')
    records, stats = read([p])
    assert [r[0]["USER_ID"] for r in records] == ["005c"]
    assert stats.skipped == 1 and str(stats.errors[0]).startswith(f"{p}:2: malformed CSV row")


def test_quoted_csv_cell_over_several_lines_is_one_value(tmp_path):
    p = tmp_path / "elf.csv"
    p.write_text('"EVENT_TYPE","QUERY","USER_ID"\n"API","SELECT Id,\nName FROM User","005a"\n"API","q","005b"\n')
    records, stats = read([p])
    assert records[0][0]["QUERY"] == "SELECT Id,\nName FROM User" and records[0][2] == 2
    assert records[1][0]["USER_ID"] == "005b" and stats.skipped == 0


def test_unterminated_csv_quote_at_the_end_is_reported(tmp_path):
    p = tmp_path / "elf.csv"
    p.write_text('"EVENT_TYPE","USER_ID"\n"API","005a"\n"API","005b\n')
    records, stats = read([p])
    assert [r[0]["USER_ID"] for r in records] == ["005a"]
    assert "unterminated quoted field" in str(stats.errors[0]) and stats.errors[0].line == 3


def test_json_named_file_of_json_lines_with_a_bad_first_line_falls_back_to_lines(tmp_path):
    p = tmp_path / "export.json"
    p.write_text('{"uuid": "x", "broken\n' + json.dumps(A) + "\n" + json.dumps(B) + "\n")
    dead = io.BytesIO()
    records, stats = read([p], dead_letter=dead)
    assert uuids(records) == ["a", "b"] and [r[2] for r in records] == [2, 3]
    assert stats.skipped == 1 and stats.errors[0].line == 1
    assert dead.getvalue() == b'{"uuid": "x", "broken\n'


def test_json_named_file_of_json_lines_with_a_garbage_first_line(tmp_path):
    p = tmp_path / "export.json"
    p.write_text("{not json at all\n" + json.dumps(A) + "\n" + json.dumps(B) + "\n")
    records, stats = read([p])
    assert uuids(records) == ["a", "b"] and stats.skipped == 1


def test_json_named_file_whose_first_line_is_longer_than_4_mib(tmp_path):
    p = tmp_path / "export.json"
    big = dict(A, pad="x" * (5 << 20))
    p.write_text(json.dumps(big) + "\n" + json.dumps(B) + "\n")
    records, stats = read([p])
    assert uuids(records) == ["a", "b"] and stats.skipped == 0


def test_utf8_bom_is_stripped_from_json_and_jsonl(tmp_path):
    bom = b"\xef\xbb\xbf"
    (tmp_path / "a.jsonl").write_bytes(bom + json.dumps(A).encode() + b"\n" + json.dumps(B).encode() + b"\n")
    (tmp_path / "b.json").write_bytes(bom + json.dumps([A, B]).encode())
    (tmp_path / "c.json").write_bytes(bom + json.dumps(C, indent=2).encode())
    records, stats = read([tmp_path])
    assert uuids(records) == ["a", "b", "a", "b", "c"] and stats.skipped == 0
    assert records[0][2] == 1


def test_blank_lines_are_skipped_cheaply_and_counted_as_lines(tmp_path):
    p = tmp_path / "padded.jsonl"
    # 20 MB of newlines and spaces between events: read in well under a second, nothing reported.
    p.write_bytes(json.dumps(A).encode() + b"\n" * (10 << 20) + b"  \r\n" * 5 + json.dumps(B).encode() + b"\n")
    records, stats = read([p])
    assert uuids(records) == ["a", "b"] and stats.skipped == 0
    assert records[1][2] == (10 << 20) + 6  # A's newline ends line 1; then 10 Mi - 1 blank lines and 5 more


def test_gzip_with_trailing_garbage_keeps_what_was_decoded(tmp_path):
    p = tmp_path / "okta.jsonl.gz"
    p.write_bytes(gzip.compress((json.dumps(A) + "\n" + json.dumps(B)).encode()) + b"garbage after the stream")
    records, stats = read([p])
    assert uuids(records) == ["a", "b"]
    assert stats.skipped == 1 and "unreadable after 2 events" in str(stats.errors[0])


def test_dead_letter_keeps_a_bad_document_whole(tmp_path):
    p = tmp_path / "one.json"
    body = '{\n  "uuid": "x",\n  "pad": "' + "y" * 5000 + '",\n  "oops"\n}\n'
    p.write_text(body)
    dead = io.BytesIO()
    records, stats = read([p], dead_letter=dead)
    assert records == [] and stats.skipped == 1 and stats.errors[0].line == 1
    assert dead.getvalue() == body.encode()


def test_bad_element_of_a_pretty_array_is_kept_whole_and_the_rest_read(tmp_path):
    p = tmp_path / "arr.json"
    bad = '{"uuid": "x", "pad": "' + "z" * 3000 + '", }'
    p.write_text("[\n  " + json.dumps(A) + ",\n  " + bad + ",\n  " + json.dumps(B) + "\n]\n")
    dead = io.BytesIO()
    records, stats = read([p], dead_letter=dead)
    assert uuids(records) == ["a", "b"]
    assert stats.errors[0].line == 3 and "element 2" in stats.errors[0].message
    assert dead.getvalue() == bad.encode() + b"\n"


def test_missing_comma_in_an_array_resynchronises_on_the_next_element_line(tmp_path):
    p = tmp_path / "arr.json"
    p.write_text("[\n" + json.dumps(A) + "\n" + json.dumps(B) + ",\n" + json.dumps(C) + "\n]")
    records, stats = read([p])
    assert uuids(records) == ["a", "b", "c"] and stats.skipped == 1
    assert "no ',' after element 1" in str(stats.errors[0]) and stats.errors[0].line == 3


def test_truncated_array_keeps_the_whole_elements(tmp_path):
    p = tmp_path / "arr.json"
    p.write_text("[" + json.dumps(A) + ", " + json.dumps(B) + ', {"uuid": "c", "ev')
    records, stats = read([p])
    assert uuids(records) == ["a", "b"]
    assert stats.skipped == 1 and "JSON ends inside element 3" in str(stats.errors[0])


def test_empty_wrapper_array_does_not_swallow_the_object(tmp_path):
    p = tmp_path / "one.json"
    p.write_text(json.dumps({"uuid": "x", "items": [], "eventType": "user.session.start"}))
    records, _ = read([p])
    assert records[0][0]["uuid"] == "x"


def test_array_elements_are_numbered_in_order_across_shapes(tmp_path):
    p = tmp_path / "arr.json"
    p.write_text(json.dumps([A, B, C]))
    records, _ = read([p])
    assert [r[2] for r in records] == [1, 2, 3]
