"""Which inputs the batch engine reads, Parquet among them (the streaming readers read none).

Kept apart from ``engine/batch.py`` so the CLI can tell whether input needs the batch engine
without importing DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from tokentrail.sources.files import MAX_KEPT_ERRORS, LogReader
from tokentrail.sources.walk import SkippedFile, walk

PARQUET = ".parquet"


def wants_batch(paths: Iterable[str | Path]) -> bool:
    """Whether ``paths`` name Parquet input (a Parquet file, or a directory holding one), which
    only the batch engine reads."""
    for path in paths:
        p = Path(path)
        if str(path).endswith(PARQUET) or (p.is_dir() and next(p.rglob("*" + PARQUET), None) is not None):
            return True
    return False


def inputs(paths: Iterable[str | Path], reader: LogReader) -> Iterator[str | Path]:
    """The files to read, in the readers' order, with Parquet files (which the readers skip as
    "not a log file") taken in; every other skipped entry is noted as the readers note it."""
    parquet_dirs: set[str] = set()
    for item in walk(paths):
        if not isinstance(item, SkippedFile):
            yield item
        elif item.path.endswith(PARQUET) and item.reason == "not a log file":
            parquet_dirs.update(str(parent) for parent in Path(item.path).parents)
            yield item.path
        elif not (item.reason.startswith("nothing to read") and item.path in parquet_dirs):
            reader.stats.files_skipped += 1
            if len(reader.stats.skipped_files) < MAX_KEPT_ERRORS:
                reader.stats.skipped_files.append((item.path, item.reason))
