"""What every command shares: the consoles, option types, rule loading and output files.

Errors print one line each on stderr; a command exits non-zero when anything went wrong, after
doing all the work it could.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from tokentrail import api
from tokentrail.rules.loader import LoadContext, LoadResult
from tokentrail.rules.model import PythonLogic


class Consoles:
    """The run's stdout and stderr consoles, made fresh per invocation (see ``reset``)."""

    def __init__(self) -> None:
        self.out = Console()
        self.err = Console(stderr=True)

    def reset(self) -> None:
        """New consoles, so width and colour follow the terminal of this run."""
        self.out = Console()
        self.err = Console(stderr=True)


ui = Consoles()


class OutputFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    json = "json"


RulesOpt = Annotated[list[Path] | None, typer.Option(
    "-r", "--rules", help="Rule file or directory (repeatable). Default: the bundled pack.")]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
HelpersOpt = Annotated[list[Path] | None, typer.Option(
    "--helpers", help="Directory of Panther global helpers (repeatable).")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--sigma-config", help="YAML file of Sigma `expand` placeholders: {placeholders: {name: [values]}}.")]


def load_context(helpers: Sequence[Path] | None, sigma_config: Path | None, allow_python: bool) -> LoadContext:
    """The rule-loading context the options describe (Sigma placeholders, Panther helpers)."""
    placeholders: dict[str, tuple[str, ...]] = {}
    if sigma_config is not None:
        import yaml

        try:
            data = yaml.safe_load(sigma_config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            fail(f"{sigma_config}: cannot read Sigma config: {exc}")
        raw = data.get("placeholders", data) if isinstance(data, dict) else {}
        if not isinstance(raw, dict):
            fail(f"{sigma_config}: 'placeholders' must map each name to a list of values")
        placeholders = {str(k): tuple(str(x) for x in (v if isinstance(v, list) else [v])) for k, v in raw.items()}
    return LoadContext(placeholders=placeholders, helper_dirs=tuple(helpers or ()), allow_python=allow_python)


def load(rules: Sequence[Path] | None, helpers=None, sigma_config=None, *, quiet: bool = False) -> LoadResult:
    """Load the named rules (Python rules allowed: the user named the paths) or the bundled pack."""
    if rules:
        result = api.load_rules(rules, context=load_context(helpers, sigma_config, allow_python=True))
    else:
        result = api.load_rules(None, context=load_context(helpers, sigma_config, allow_python=False))
    if not quiet:
        for e in result.errors:
            ui.err.print(f"[red]error[/]: {escape(str(e))}", highlight=False, soft_wrap=True)
        python = [r for r in result.runnable if isinstance(r.logic, PythonLogic)]
        if python:
            ui.err.print(f"about to run {len(python)} Python rule(s) from "
                         f"{', '.join(sorted({str(p) for p in (rules or [])}))}", highlight=False, markup=False)
    return result


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error line and stop with ``code``."""
    ui.err.print(f"[red]error[/]: {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def open_write(path: Path) -> IO[bytes]:
    """Open an output file, or stop with one line naming it (exit 2)."""
    try:
        return open(path, "wb")
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror}")


@contextlib.contextmanager
def open_out(path: Path | None) -> Iterator[IO[bytes]]:
    """The output file named by ``-o`` (stdout when None)."""
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
    else:
        with open_write(path) as fh:
            yield fh


def write_json_stdout(data: object) -> None:
    """One JSON document on stdout."""
    from tokentrail.sinks.writers import write_json

    write_json(data, sys.stdout.buffer)


class TextSink:
    """Lets a Rich console write text into a binary file."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh

    def write(self, text: str) -> int:
        self.fh.write(text.encode())
        return len(text)

    def flush(self) -> None:
        self.fh.flush()
