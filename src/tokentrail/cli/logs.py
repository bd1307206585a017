"""``tokentrail logs``: log files turned into other forms (a Parquet dataset for data lakes)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn

from tokentrail import api
from tokentrail.cli.common import (
    FormatOpt,
    OutputFormat,
    fail,
    note,
    open_write,
    report,
    require_stdin,
    ui,
    write_json_stdout,
)
from tokentrail.cli.help import Command, Group
from tokentrail.engine.batch_input import PARQUET
from tokentrail.errors import TokenTrailError

app = typer.Typer(help="Convert log files (e.g. to a Parquet dataset).", no_args_is_help=True, cls=Group)


@app.command("to-parquet", cls=Command)
def to_parquet(
    paths: Annotated[list[str], typer.Argument(metavar="IN... OUT",
                                               help="Log files or directories ('-' for stdin), then the "
                                                    "dataset directory to write.")],
    append: Annotated[bool, typer.Option("--append", help="Add files to an existing dataset.")] = False,
    dead_letter: Annotated[Path | None, typer.Option(
        "--dead-letter", metavar="FILE", help="Keep the malformed lines here.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Stop at the first malformed line.")] = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Write log files as a Parquet dataset partitioned by log type and day
    (tt_log_type=…/tt_day=…), readable by DuckDB, Spark, Trino and `tokentrail scan`."""
    if len(paths) < 2:
        fail("give at least one input and the output directory")
    *inputs, out = paths
    require_stdin(inputs)
    # A named file is read whatever its suffix: Parquet would be a "malformed JSON" line per
    # line of its bytes (a directory's Parquet files are skipped, and listed, as not log files).
    named = [p for p in inputs if p.endswith(PARQUET) and not Path(p).is_dir()]
    if named:
        fail(f"{named[0]}: already Parquet; logs to-parquet reads JSON and CSV logs "
             "(tokentrail scan reads Parquet as it is)")
    with contextlib.ExitStack() as stack:
        dead = stack.enter_context(open_write(dead_letter, "--dead-letter")) if dead_letter else None
        progress = None
        if ui.err.is_terminal:
            bar = stack.enter_context(Progress(SpinnerColumn(), TextColumn("{task.completed:,} events"),
                                               console=ui.err, transient=True))
            task = bar.add_task("read", total=None)
            progress = lambda n: bar.update(task, completed=n)  # noqa: E731
        try:
            result = api.logs_to_parquet(inputs, out, append=append, strict=strict, dead_letter=dead,
                                         progress=progress)
        except TokenTrailError as exc:
            fail(str(exc), 1)
    for error in result.read.errors:
        report("skipped", "yellow", error)
    for path, reason in result.read.skipped_files:
        report("skipped", "yellow", f"{path}: {reason}")
    for column in result.text_columns:
        note(f"{column.file}: {column.column} stored as JSON text: {column.reason}")
    if fmt is OutputFormat.json:
        write_json_stdout(result.summary_json())
    else:
        for (log_type, day), count in sorted(result.partitions.items()):
            ui.out.print(f"{log_type}\t{day}\t{count}", markup=False, highlight=False)
    note(f"{result.events} events in {len(result.files)} files under {out}"
         + (f"; {result.read.skipped} malformed lines skipped" if result.read.skipped else ""))
    if result.read.skipped:
        raise typer.Exit(1)
