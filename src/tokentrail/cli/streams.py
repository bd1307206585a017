"""Standard streams that fail in one line: closed, full, or a pipe whose reader went away.

``tokentrail rules list >&-`` starts with no stdout, ``> /dev/full`` fails at the first flush and
``| head -1`` breaks the pipe. The entry point turns each into one line on stderr (or, for a
closed pipe, a quiet exit, as Unix tools do) instead of a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys

from tokentrail.sinks.safe_text import safe_text

# Exit status of a write to standard output that failed (the status of a usage error too).
WRITE_FAILED = 2
# A closed pipe: the reader has what it wanted. Python's own advice is status 1.
PIPE_CLOSED = 1


class ClosedStream(io.TextIOBase):
    """Stands in for a standard stream the process was started without: any use raises
    ``OSError(EBADF)``, which the entry point reports. Nothing is buffered, so nothing fails
    again at exit."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def _closed(self, *_args: object) -> int:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    write = read = readline = _closed

    @property
    def buffer(self) -> ClosedStream:
        return self

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False


def guard_closed_streams() -> None:
    """Give a closed stdin or stdout a stand-in that fails in one clear line when used."""
    if sys.stdout is None:
        sys.stdout = ClosedStream("standard output")
    if sys.stdin is None:
        sys.stdin = ClosedStream("standard input")


def output_failed(exc: OSError) -> int:
    """Report a failed write to standard output in one line (nothing for a closed pipe), point
    the stdout descriptor at /dev/null so Python's flush at exit cannot fail again, and return
    the exit status."""
    if exc.errno != errno.EPIPE:
        _stderr_line(f"error: standard output: cannot write: {exc.strerror or exc}")
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ is not None else 1)
    except (OSError, ValueError):
        pass  # stdout had no descriptor (it was closed): nothing is left to flush
    return PIPE_CLOSED if exc.errno == errno.EPIPE else WRITE_FAILED


def _stderr_line(text: str) -> None:
    with contextlib.suppress(OSError, AttributeError):  # stderr gone too: the status is all that is left
        print(safe_text(text), file=sys.stderr, flush=True)
