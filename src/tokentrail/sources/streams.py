"""Opening inputs as byte streams: plain files, FIFOs, standard input, and compressed layers
(gzip, bzip2, xz, zstd), with the expanded size bounded and a damaged stream ending the read
where the damage is rather than losing what came before it."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from typing import BinaryIO

import zstandard

# What a damaged or hostile compressed stream or archive raises while being read.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, tarfile.TarError,
    zipfile.BadZipFile,
)


class NotAFile(Exception):
    """A path names something that is not a regular file or a FIFO (a socket, a device)."""


_KINDS = ((stat.S_ISDIR, "directory"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISLNK, "symbolic link"))


def file_kind(mode: int) -> str:
    """A word for what a stat mode names, other than a regular file."""
    return next((word for test, word in _KINDS if test(mode)), "special file")


def open_input(path: str | os.PathLike[str]) -> tuple[BinaryIO, bool]:
    """A regular file or a FIFO opened for unbuffered reading, and whether it is a FIFO.

    The open itself never waits: a FIFO is opened without blocking (a blocking open would wait
    for a writer forever), then read with blocking reads, as a stream, like standard input.
    A FIFO with no writer reads as empty at once.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise NotAFile(f"not a regular file ({file_kind(mode)})")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0), stat.S_ISFIFO(mode)
    except BaseException:
        os.close(fd)
        raise


COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")


def decompressed(stream: BinaryIO, suffix: str) -> BinaryIO:
    """``stream`` read through the decompressor its suffix names (which leaves it open)."""
    if suffix == ".gz":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if suffix == ".bz2":
        return bz2.BZ2File(stream)  # type: ignore[return-value]
    if suffix == ".xz":
        return lzma.LZMAFile(stream)  # type: ignore[return-value]
    if suffix == ".zst":
        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True, closefd=False)  # type: ignore[return-value]
    raise ValueError(f"not a compression suffix: {suffix}")


class Input:
    """The read end of one input: ``read(n)`` returns what is available, at most ``n`` bytes
    (b"" at the end), never waiting for more than one read of the layer below.

    A decoding failure or going past ``limit`` bytes (the expanded size of a compressed
    member) ends the input as if it were over, so what was read before is still used;
    ``failure`` then says why. ``after_read`` runs after every read (progress).
    """

    def __init__(self, stream: BinaryIO, *, limit: int | None = None,
                 after_read: Callable[[], None] | None = None) -> None:
        self._read = getattr(stream, "read1", None) or stream.read
        self.limit = limit
        self.after_read = after_read
        self.total = 0
        self.failure: str | None = None

    def read(self, n: int = -1) -> bytes:
        if self.failure is not None:
            return b""
        try:
            data = self._read(n)
        except DECODE_ERRORS as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            return b""
        self.total += len(data)
        if self.limit is not None and self.total > self.limit:
            self.failure = f"expands past the {self.limit}-byte limit; the rest is not read"
            data = data[: len(data) - (self.total - self.limit)]
            self.total = self.limit
        if self.after_read is not None:
            self.after_read()
        return data

    read1 = read
