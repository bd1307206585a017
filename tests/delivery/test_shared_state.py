"""Two scans sharing one --state file: the second is refused at once with one line while the
first holds it, and the first's results are those of a scan alone. A locked, read-only or
corrupt state file is one clean line each."""

from __future__ import annotations

import os
import sqlite3
import subprocess

import pytest
from support import TOKEN_RULE, jsonl_ids, okta_event, run, tokentrail, write_jsonl
from test_crash_consistency import NEW_IP_RULE

from tokentrail.errors import StateError
from tokentrail.state import StateStore


@pytest.fixture
def files(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "new_ip.toml").write_text(NEW_IP_RULE)
    (tmp_path / "rules" / "token.yml").write_text(TOKEN_RULE)
    events = []
    for n in range(4000):
        s = 3 * n
        event = okta_event(n, "user.session.start", user=f"user{n % 40}@example.com",
                           published=f"2024-05-01T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z")
        event["client"]["ipAddress"] = f"10.{n // 250}.{n % 250}.1"
        events.append(event)
    events.insert(10, okta_event(90000, published="2024-05-01T00:00:31Z"))  # an early alert to wait for
    return tmp_path, write_jsonl(tmp_path / "okta.jsonl", events)


def one_error_line(proc) -> str:
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr.decode()
    assert "Traceback" not in lines[0]
    return lines[0]


def test_a_second_scan_on_a_held_state_is_refused_and_the_first_is_coherent(files):
    root, logs = files
    alone = run("scan", logs, "-r", root / "rules", "--state", root / "alone.db", "--format", "jsonl")
    assert alone.returncode == 0, alone.stderr.decode()
    shared = root / "shared.db"
    first = tokentrail("scan", logs, "-r", root / "rules", "--state", shared, "--format", "jsonl")
    try:
        head = first.stdout.readline()  # the first scan is running and holds the state
        assert head
        second = run("scan", logs, "-r", root / "rules", "--state", shared, "--format", "jsonl", timeout=60)
        assert "in use by another scan" in one_error_line(second) and second.stdout == b""
        rest, err = first.communicate(timeout=120)
    finally:
        first.kill()
        first.wait()
    assert first.returncode == 0, err.decode()
    assert sorted(jsonl_ids(head + rest)) == sorted(jsonl_ids(alone.stdout))
    # Once the first scan is over the file is free again.
    assert run("scan", logs, "-r", root / "rules", "--state", shared, "--format", "jsonl").returncode == 0


def test_a_state_file_locked_by_another_program_is_one_line(files):
    root, logs = files
    path = root / "locked.db"
    StateStore(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        proc = run("scan", logs, "-r", root / "rules", "--state", path, "--format", "jsonl")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "locked by another program" in one_error_line(proc)


def test_a_corrupt_state_file_is_one_line(files):
    root, logs = files
    path = root / "corrupt.db"
    path.write_bytes(b"this is not SQLite at all\n" * 200)
    proc = run("scan", logs, "-r", root / "rules", "--state", path, "--format", "jsonl")
    line = one_error_line(proc)
    assert f"{path}: state file is corrupt" in line


def test_a_read_only_state_file_is_one_line(files):
    root, logs = files
    path = root / "ro.db"
    StateStore(path).close()
    if os.geteuid() == 0:
        # Root writes through file modes; an immutable file is read-only even for root.
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("running as root where chattr +i is not available: cannot make a read-only file")
    else:
        path.chmod(0o444)
    try:
        proc = run("scan", logs, "-r", root / "rules", "--state", path, "--format", "jsonl")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    assert "read-only" in one_error_line(proc)
    assert proc.stdout == b""  # refused before the scan, not at its first state change


def test_the_library_refuses_a_second_holder(tmp_path):
    path = tmp_path / "s.db"
    first, second = StateStore(path), StateStore(path)
    try:
        first.hold()
        with pytest.raises(StateError, match="in use by another scan"):
            second.hold()
        first.put("ns", "k", 1)
        assert StateStore(path).get("ns", "k") is None  # not committed: invisible, and lost on a crash
        first.commit()
        assert StateStore(path).get("ns", "k") == 1
        first.release()
        second.hold()  # free again
    finally:
        first.close()
        second.close()
