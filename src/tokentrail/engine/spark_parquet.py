"""Reading Parquet in the Spark executors, with Spark's own Parquet reader.

The driver reads each Parquet file's footer (its row count and schema: a few kilobytes) and the
files of one query that share a schema become one ``spark.read.parquet`` over their paths: a
DataFrame of several schemas would be read with one file's, silently losing the others' columns.
Each row carries ``_metadata.file_path`` and ``_metadata.row_index`` (Spark's per-file row
index, 0-based, stable however the file is split among tasks), and ``parquet_rows`` (a
``mapInArrow`` function) turns every row into the event text the DuckDB engine's driver read
makes (``engine.arrow_events.events_of``: NULL cells left out, values of types JSON lacks as their
text, our dataset writer's partition columns dropped), numbered by its row in its file, 1-based.
The rows have ``engine/spark_read.py``'s ``ROW_SCHEMA``, so the JSON-lines pieces and the Parquet
files of a query are matched by the one query of ``SparkEngine``.

A file an executor cannot read gives fewer rows than its footer said (the read ignores missing
and unreadable files rather than failing the query: ``ignoreMissingFiles``,
``ignoreCorruptFiles``), and a file Spark cannot list is left out of the query: the driver then
reads either itself, as the DuckDB engine reads Parquet (and reports a file it cannot read as
that engine does).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from tokentrail.engine.arrow_events import events_of  # the driver read's own conversion
from tokentrail.engine.batch_schema import names_clash
from tokentrail.engine.spark_read import row_batch
from tokentrail.sinks.parquet_dataset import PARTITION_COLUMNS

# Parquet is compressed columns: a byte of it holds several bytes of event text (the simulated
# Okta events, snappy: about 15), which is what a query's share of input measures.
PARQUET_EXPANSION = 15
METADATA = "_metadata"  # Spark's hidden column of each row's file and row index


@dataclass(frozen=True)
class Footer:
    """What the driver knows of a Parquet file before the executors read it: its rows, and a key
    equal for files Spark reads with one schema."""

    rows: int
    schema: str


def footer(path: str) -> Footer | None:
    """The footer of the Parquet file at ``path``, or None when the driver reads the file: it
    cannot read a footer (its read then reports the file), or a top-level column's name is one
    Spark's read mistakes: ``_metadata`` (Spark hands that column and its own ``_metadata`` to
    Python under one name) or a name holding a dot (Spark 4.3's pruning of nested columns takes
    ``a.b`` for field ``b`` of ``a`` and leaves the column out), or names differing only in case
    (``names_clash``: Spark reads names regardless of case)."""
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return None
    schema = meta.schema.to_arrow_schema().remove_metadata()
    if any(name == METADATA or "." in name for name in schema.names) or names_clash(schema):
        return None
    return Footer(meta.num_rows, schema.to_string())


def file_key(path: str) -> str:
    """A path as given to Spark, or as Spark names a file (``file:/a%20b``), in one spelling."""
    parts = urlsplit(path)
    if not parts.scheme or len(parts.scheme) == 1:  # a plain path (or a Windows drive letter)
        return path
    return parts.netloc + unquote(parts.path)


def parquet_frame(spark, paths: Sequence[str]):
    """One DataFrame over Parquet files of one schema: their columns (our dataset writer's
    partition columns left out), then Spark's ``_metadata`` of each row (its file and row index)."""
    frame = (spark.read.option("ignoreMissingFiles", "true").option("ignoreCorruptFiles", "true")
             .parquet(*paths))
    meta = frame.metadataColumn(METADATA)
    columns = [frame[_quoted(name)] for name in frame.columns if name not in PARTITION_COLUMNS]
    # The struct whole: Spark's optimizer turns a selection of its fields back into the struct
    # (pruned to them) when it plans the query that reads this frame.
    return frame.select(*columns, meta)


def parquet_rows(pieces: Mapping[str, int], columns: int):
    """The ``mapInArrow`` function that turns the rows of ``parquet_frame`` into ``ROW_SCHEMA``
    rows: ``pieces`` gives each file's piece by ``file_key`` of the path Spark was given;
    ``columns`` is how many columns of the frame are the events'; Spark's ``_metadata`` struct
    follows them."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        found: dict[str, int] = {}
        dumps = orjson.dumps
        for batch in batches:
            piece = []
            meta = batch.column(columns)
            for name in meta.field("file_path").to_pylist():
                at = found.get(name)
                if at is None:
                    at = found[name] = pieces[file_key(name)]
                piece.append(at)
            rows = [i + 1 for i in meta.field("row_index").to_pylist()]
            table = pa.Table.from_batches([batch]).select(range(columns))
            texts = [dumps(event) for event in events_of(table)]
            yield row_batch(piece, rows, rows, texts)

    return run


def _quoted(name: str) -> str:
    """A column name for ``DataFrame[...]``: a dot or a backtick in it is no path."""
    return "`" + name.replace("`", "``") + "`"

