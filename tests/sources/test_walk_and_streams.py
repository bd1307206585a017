"""Directory walks list every entry they do not read; FIFOs and pipes never hang a read and
stream: each event is handed on as soon as its line arrives."""

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest

from tokentrail.sources.files import LogReader

A = {"uuid": "a", "eventType": "user.session.start"}
B = {"uuid": "b", "eventType": "user.session.end"}


def read(paths, **kw):
    reader = LogReader(**kw)
    return list(reader.records(paths)), reader.stats


def in_thread(fn, timeout=20):
    """Run ``fn`` in a thread; fail (rather than hang the suite) if it does not finish."""
    out: dict = {}
    thread = threading.Thread(target=lambda: out.setdefault("value", fn()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the read hung"
    return out["value"]


def test_walk_lists_what_it_does_not_read(tmp_path):
    (tmp_path / "okta.jsonl").write_text(json.dumps(A) + "\n")
    (tmp_path / "notes.txt").write_text("not logs")
    (tmp_path / "syslog.1.gz").write_bytes(b"")
    os.mkfifo(tmp_path / "pipe.jsonl")
    (tmp_path / "gone.jsonl").symlink_to(tmp_path / "missing.jsonl")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.json").write_text(json.dumps(B))
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "alias.jsonl").symlink_to(tmp_path / "okta.jsonl")
    records, stats = in_thread(lambda: read([tmp_path]))
    assert [r[0]["uuid"] for r in records] == ["a", "a", "b"]  # alias.jsonl, okta.jsonl, sub/b.json
    assert stats.skipped_files == [
        (f"{tmp_path}/gone.jsonl", "dangling symbolic link"),
        (f"{tmp_path}/loop", "symbolic link to a directory: not followed"),
        (f"{tmp_path}/notes.txt", "not a log file"),
        (f"{tmp_path}/pipe.jsonl", "not a regular file (FIFO)"),
        (f"{tmp_path}/syslog.1.gz", "not a log file"),
    ]
    assert stats.files_skipped == 5 and stats.files == 3 and stats.skipped == 0


def test_directory_with_nothing_to_read_says_so(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "README.md").write_text("x")
    records, stats = read([empty, other])
    assert records == []
    assert stats.skipped_files == [
        (str(empty), "nothing to read: no log files in the directory (0 entries skipped)"),
        (f"{other}/README.md", "not a log file"),
        (str(other), "nothing to read: no log files in the directory (1 entries skipped)"),
    ]


_AS_NOBODY = textwrap.dedent("""
    import json, os, sys
    from tokentrail.sources.files import LogReader  # before the switch: the stdlib may be root's
    os.setgid(65534); os.setuid(65534)
    reader = LogReader()
    events = [e["uuid"] for e, _, _ in reader.records([sys.argv[1]])]
    print(json.dumps({"events": events, "skipped_files": reader.stats.skipped_files}))
""")


def test_unreadable_entries_are_listed(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="tt-unreadable-"))  # outside pytest's private tmp dirs
    try:
        root = base / "logs"
        root.mkdir()
        (root / "ok.jsonl").write_text(json.dumps(A) + "\n")
        (root / "secret.jsonl").write_text(json.dumps(B) + "\n")
        (root / "locked").mkdir()
        (root / "locked" / "c.jsonl").write_text(json.dumps(B) + "\n")
        for p, mode in ((base, 0o755), (root, 0o755), (root / "ok.jsonl", 0o644),
                        (root / "secret.jsonl", 0o000), (root / "locked", 0o000)):
            os.chmod(p, mode)
        if os.geteuid() != 0:
            records, stats = read([root])
            events, skipped = [r[0]["uuid"] for r in records], stats.skipped_files
        else:  # root reads everything: look through the eyes of an unprivileged user instead
            done = subprocess.run([sys.executable, "-c", _AS_NOBODY, str(root)], capture_output=True,
                                  text=True, timeout=60, cwd="/")
            if done.returncode and "Operation not permitted" in done.stderr:
                pytest.skip("cannot switch to an unprivileged user here: " + done.stderr.strip().splitlines()[-1])
            assert done.returncode == 0, done.stderr
            result = json.loads(done.stdout)
            events, skipped = result["events"], [tuple(s) for s in result["skipped_files"]]
        assert events == ["a"]
        assert skipped == [(f"{root}/locked", "unreadable directory: Permission denied"),
                           (f"{root}/secret.jsonl", "unreadable: permission denied")]
    finally:
        os.chmod(base / "logs" / "locked", 0o755)
        shutil.rmtree(base)


def test_fifo_named_directly_without_a_writer_does_not_hang(tmp_path):
    fifo = tmp_path / "p.jsonl"
    os.mkfifo(fifo)
    records, stats = in_thread(lambda: read([fifo]))
    assert records == [] and stats.skipped_files == [(str(fifo), "FIFO: nothing to read (no writer)")]


def test_fifo_named_directly_is_read_as_a_stream(tmp_path):
    fifo = tmp_path / "p.jsonl"
    os.mkfifo(fifo)
    # The writer holds the FIFO open (read-write, so this open does not wait) until the reader has
    # both events: data in a FIFO nobody holds open is gone.
    fd = os.open(fifo, os.O_RDWR)
    os.write(fd, (json.dumps(A) + "\n" + json.dumps(B) + "\n").encode())
    seen: list = []
    both = threading.Event()

    def read_fifo():
        reader = LogReader()
        for event, _, line in reader.read_file(fifo):
            seen.append((event["uuid"], line))
            if len(seen) == 2:
                both.set()
        return reader.stats

    thread = threading.Thread(target=lambda: seen.append(read_fifo()), daemon=True)
    thread.start()
    both.wait(10)
    os.close(fd)
    thread.join(20)
    assert not thread.is_alive()
    assert seen[:2] == [("a", 1), ("b", 2)] and seen[2].skipped_files == []


def stream_through_a_pipe(monkeypatch, first: bytes, rest: bytes):
    """Read ``first`` then ``rest`` from a real pipe as stdin, the writer sending ``rest`` only
    once the reader has handed on an event (or after 10 s). What was read, and whether the
    writer was still open when the first event came out."""
    r, w = os.pipe()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(os.fdopen(r, "rb")))
    got_first = threading.Event()

    def writer():
        os.write(w, first)
        got_first.wait(10)  # a reader that waits for more input before yielding times out here
        os.write(w, rest)
        os.close(w)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    records, open_at_first = [], None
    for record in LogReader().read_file("-"):
        if not records:
            open_at_first = thread.is_alive()
            got_first.set()
        records.append(record)
    thread.join(10)
    return [(e["uuid"], source, line) for e, source, line in records], open_at_first


def test_a_pipe_yields_each_event_before_the_writer_closes(monkeypatch):
    records, open_at_first = stream_through_a_pipe(monkeypatch, json.dumps(A).encode() + b"\n",
                                                   json.dumps(B).encode() + b"\n")
    assert records == [("a", "<stdin>", 1), ("b", "<stdin>", 2)] and open_at_first is True


def test_a_pipe_streams_the_elements_of_an_array(monkeypatch):
    records, open_at_first = stream_through_a_pipe(monkeypatch, b"[\n" + json.dumps(A).encode() + b",\n",
                                                   json.dumps(B).encode() + b"\n]\n")
    assert [r[0] for r in records] == ["a", "b"] and open_at_first is True


def test_closed_stdin_is_one_error(monkeypatch):
    monkeypatch.setattr("sys.stdin", None)
    records, stats = read(["-"])
    assert records == [] and [str(e) for e in stats.errors] == ["<stdin>: standard input is closed"]
