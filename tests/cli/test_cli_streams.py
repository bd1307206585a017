"""Standard streams that fail: closed stdout or stdin, a full disk (/dev/full) and a pipe whose
reader went away give one clean line (or, for a closed pipe, a quiet exit), never a traceback.
Real processes: only they have real file descriptors to lose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import okta_event

SCRIPT = Path(sys.executable).parent / "tokentrail"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "tokentrail.cli"]
ENV = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="no /dev/full on this system")


def shell(redirect: str, *args: str | Path) -> subprocess.CompletedProcess[bytes]:
    """``tokentrail ARGS REDIRECT`` through sh, so a descriptor can be closed (``>&-``)."""
    line = " ".join(f'"${i}"' for i in range(1, len(COMMAND) + len(args) + 1))
    return subprocess.run(["sh", "-c", f"exec {line} {redirect}", "sh", *COMMAND, *map(str, args)],
                          capture_output="2>" not in redirect, env=ENV, timeout=120, check=False)


def one_clean_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert "Traceback" not in text and "Exception ignored" not in text, text
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture
def logs(tmp_path):
    path = tmp_path / "okta.jsonl"
    path.write_text("".join(json.dumps(okta_event(n, "system.api_token.create")) + "\n" for n in range(300)))
    return path


def test_closed_stdout():
    proc = subprocess.run([*COMMAND, "rules", "list"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=ENV, timeout=120, check=False, preexec_fn=lambda: os.close(1))
    assert proc.returncode == 2
    assert one_clean_line(proc.stderr) == "error: standard output: cannot write: Bad file descriptor"


def test_closed_stdout_with_output_to_a_file_still_works(tmp_path, logs):
    target = tmp_path / "alerts.jsonl"
    proc = subprocess.run([*COMMAND, "scan", logs, "--format", "jsonl", "-o", target],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV, timeout=120,
                          check=False, preexec_fn=lambda: os.close(1))
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(target.read_text().splitlines()) == 300


def test_closed_stdin():
    proc = subprocess.run([*COMMAND, "scan", "-"], stdin=subprocess.DEVNULL, capture_output=True, env=ENV,
                          timeout=120, check=False, preexec_fn=lambda: os.close(0))
    assert proc.returncode == 2
    assert one_clean_line(proc.stderr) == "error: '-': cannot read standard input: it is closed"


@needs_dev_full
@pytest.mark.parametrize("args", [("rules", "list"), ("rules", "list", "--format", "jsonl"), ("--help",)])
def test_stdout_to_dev_full(args):
    with open(FULL, "wb") as full:
        proc = subprocess.run([*COMMAND, *args], stdout=full, stderr=subprocess.PIPE, env=ENV, timeout=120,
                              check=False)
    assert proc.returncode == 2
    assert one_clean_line(proc.stderr) == "error: standard output: cannot write: No space left on device"


@needs_dev_full
@pytest.mark.parametrize("fmt", ["jsonl", "json", "table"])
def test_output_option_to_dev_full(logs, fmt):
    proc = subprocess.run([*COMMAND, "scan", logs, "--format", fmt, "-o", FULL], capture_output=True, env=ENV,
                          timeout=120, check=False)
    assert proc.returncode == 2
    assert one_clean_line(proc.stderr) == f"error: --output {FULL}: cannot write: No space left on device"


@needs_dev_full
def test_matches_to_dev_full(logs):
    proc = subprocess.run([*COMMAND, "scan", logs, "--format", "jsonl", "--matches", FULL], capture_output=True,
                          env=ENV, timeout=120, check=False)
    text = proc.stderr.decode()
    assert proc.returncode != 0 and "Traceback" not in text, text
    assert f"--matches {FULL}: cannot write: No space left on device" in text


@pytest.mark.parametrize("args", [("rules", "list"), ("rules", "list", "--format", "jsonl"),
                                  ("scan", "LOGS", "--format", "jsonl"), ("scan", "LOGS")])
def test_broken_pipe_exits_quietly(logs, args):
    args = [str(logs) if a == "LOGS" else a for a in args]
    proc = subprocess.Popen([*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    proc.stdout.close()  # the reader is gone before the first write, as with `| head -0`
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 1
    assert b"Traceback" not in stderr and b"Exception ignored" not in stderr, stderr.decode()
    assert b"error" not in stderr, stderr.decode()
