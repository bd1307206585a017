"""The members of zip and tar archives, one at a time, each with its own name and stream.

A tar is read as a stream (members in order, nothing held), so compressed tars of any size
work; a zip needs a seekable file. A member that is not a log file, not a regular file, or an
archive itself is named with the reason and not read; one that cannot be opened is an error.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from tokentrail.sources.streams import file_kind
from tokentrail.sources.walk import layout_of


@dataclass(frozen=True)
class Member:
    """One archive member to read."""

    name: str
    stream: BinaryIO
    size: int  # as the archive declares it


@dataclass(frozen=True)
class MemberSkipped:
    """A member not read: ``error`` when it should have been (it could not be opened)."""

    name: str
    reason: str
    error: bool = False


def _why_not(name: str, kind: str | None) -> str | None:
    """Why a member named ``name`` (of ``kind`` when not a regular file) is not read, if it is not."""
    if kind is not None:
        return f"not a regular file ({kind})"
    layout = layout_of(name)
    if layout.archive is not None:
        return "an archive inside an archive: not read"
    if not layout.readable:
        return "not a log file"
    return None


def zip_members(fh: BinaryIO) -> Iterator[Member | MemberSkipped]:
    """Members of the zip file ``fh`` in the archive's order. Each member's stream must be read
    before the next is asked for."""
    with zipfile.ZipFile(fh) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            mode = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver stored no type
            why = _why_not(info.filename, file_kind(mode) if mode and mode != stat.S_IFREG else None)
            if why is not None:
                yield MemberSkipped(info.filename, why)
                continue
            if info.flag_bits & 0x1:
                yield MemberSkipped(info.filename, "encrypted: cannot be read", error=True)
                continue
            try:
                stream = archive.open(info)
            except (NotImplementedError, RuntimeError, zipfile.BadZipFile) as exc:
                yield MemberSkipped(info.filename, f"cannot be opened: {exc}", error=True)
                continue
            with stream:
                yield Member(info.filename, stream, info.file_size)  # type: ignore[arg-type]


_TAR_KINDS = ((tarfile.TarInfo.issym, "symbolic link"), (tarfile.TarInfo.islnk, "hard link"),
              (tarfile.TarInfo.isfifo, "FIFO"), (tarfile.TarInfo.ischr, "character device"),
              (tarfile.TarInfo.isblk, "block device"))


def tar_members(stream: BinaryIO) -> Iterator[Member | MemberSkipped]:
    """Members of the (already decompressed) tar stream, in order, read as a stream."""
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for info in archive:
            if info.isdir():
                continue
            kind = None if info.isfile() else next((w for test, w in _TAR_KINDS if test(info)), "special file")
            why = _why_not(info.name, kind)
            if why is not None:
                yield MemberSkipped(info.name, why)
                continue
            member = archive.extractfile(info)
            if member is None:
                yield MemberSkipped(info.name, "cannot be opened", error=True)
                continue
            with member:
                yield Member(info.name, member, info.size)
