"""Which paths a read opens: directories walked, every file not read listed with the reason."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tokentrail.sources.streams import COMPRESSION_SUFFIXES, file_kind

LOG_SUFFIXES = (".json", ".jsonl", ".ndjson", ".log", ".csv")
_TAR_SHORT = {".tgz": ".gz", ".tbz2": ".bz2", ".tbz": ".bz2", ".txz": ".xz", ".tzst": ".zst"}


@dataclass(frozen=True)
class Layout:
    """How a file name says its bytes are laid out: an archive (``zip``/``tar``) or not, the
    compression layers outermost first, and the format suffix of what is inside."""

    archive: str | None
    compressions: tuple[str, ...]
    format: str

    @property
    def readable(self) -> bool:
        """Whether a directory walk reads a file so named."""
        return self.archive is not None or self.format in LOG_SUFFIXES


def layout_of(name: str) -> Layout:
    """``x.jsonl.gz`` → JSON lines under gzip; ``x.tgz`` → a tar under gzip; ``x.zip``, ..."""
    stem = name.lower()
    layers: list[str] = []
    while True:
        suffix = os.path.splitext(stem)[1]
        if suffix in COMPRESSION_SUFFIXES:
            layers.append(suffix)
            stem = stem[: -len(suffix)]
            continue
        if suffix in _TAR_SHORT:
            return Layout("tar", (*layers, _TAR_SHORT[suffix]), "")
        if suffix in (".tar", ".zip"):
            return Layout(suffix[1:], tuple(layers), "")
        return Layout(None, tuple(layers), suffix)


@dataclass(frozen=True)
class SkippedFile:
    """A file (or archive member) a read did not open, and why."""

    path: str
    reason: str


def walk(paths: Iterable[str | Path]) -> Iterator[str | Path | SkippedFile]:
    """The files to read under ``paths`` and the ones skipped, in order. A path named directly
    is read whatever its name; a directory yields, recursively and sorted, the files whose names
    say they hold logs, and a ``SkippedFile`` for every other entry (and for itself when it
    holds nothing to read). Links to directories are not followed (no loops)."""
    for path in paths:
        if str(path) == "-":
            yield "-"
            continue
        p = Path(path)
        try:
            is_dir = stat.S_ISDIR(os.stat(p).st_mode)
        except OSError:
            is_dir = False  # opening it reports why it cannot be read
        if not is_dir:
            yield p
            continue
        found = skipped = 0
        for item in _walk_dir(p):
            if isinstance(item, SkippedFile):
                skipped += 1
            else:
                found += 1
            yield item
        if not found:
            yield SkippedFile(str(p), f"nothing to read: no log files in the directory ({skipped} entries skipped)")


def _walk_dir(root: Path) -> Iterator[Path | SkippedFile]:
    try:
        with os.scandir(root) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield SkippedFile(str(root), f"unreadable directory: {exc.strerror}")
        return
    for entry in entries:
        path = root / entry.name
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISLNK(mode):
                mode = entry.stat(follow_symlinks=True).st_mode
                if stat.S_ISDIR(mode):
                    yield SkippedFile(str(path), "symbolic link to a directory: not followed")
                    continue
        except FileNotFoundError:
            yield SkippedFile(str(path), "dangling symbolic link")
            continue
        except OSError as exc:
            yield SkippedFile(str(path), f"unreadable: {exc.strerror}")
            continue
        if stat.S_ISDIR(mode):
            yield from _walk_dir(path)
        elif not stat.S_ISREG(mode):
            yield SkippedFile(str(path), f"not a regular file ({file_kind(mode)})")
        elif not layout_of(entry.name).readable:
            yield SkippedFile(str(path), "not a log file")
        elif not os.access(path, os.R_OK):
            yield SkippedFile(str(path), "unreadable: permission denied")
        else:
            yield path


def expand_paths(paths: Iterable[str | Path]) -> Iterator[str | Path]:
    """The files a read of ``paths`` opens (see ``walk``; skipped entries left out)."""
    return (p for p in walk(paths) if not isinstance(p, SkippedFile))
