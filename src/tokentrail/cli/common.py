"""What every command shares: the consoles, option types, rule loading and output files.

Errors print one line each on stderr; a command exits non-zero when anything went wrong, after
doing all the work it could. Everything shown to people goes through ``escape``: text from
events, rules and file names can neither drive the terminal nor be read as Rich markup.
"""

from __future__ import annotations

import contextlib
import errno
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape as escape_markup

from tokentrail import api
from tokentrail.rules.loader import LoadContext, LoadResult
from tokentrail.rules.model import PythonLogic
from tokentrail.sinks.safe_text import safe_text


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


def escape(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` ready for a Rich print with markup: control, bidi and surrogate characters
    escaped (``safe_text``), then Rich markup escaped."""
    return escape_markup(safe_text(text, keep_newlines=keep_newlines))


def report(label: str, style: str, message: object) -> None:
    """One line on stderr: a coloured label and the terminal-safe message."""
    ui.err.print(f"[{style}]{label}[/]: {escape(message)}", highlight=False, soft_wrap=True)


def note(message: object) -> None:
    """One plain line on stderr (a summary, a notice), terminal-safe."""
    ui.err.print(safe_text(message), highlight=False, markup=False, soft_wrap=True)


class OutputFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    json = "json"


RulesOpt = Annotated[list[Path] | None, typer.Option(
    "-r", "--rules", metavar="PATH",
    help="Rule file or directory (repeatable). Default: the bundled pack.")]
FormatOpt = Annotated[OutputFormat, typer.Option(
    "--format", "-f", metavar="FORMAT", help="Output format: table (for people), jsonl or json.")]
HelpersOpt = Annotated[list[Path] | None, typer.Option(
    "--helpers", metavar="DIR", help="Directory of Panther global helpers (repeatable).")]
DataModelsOpt = Annotated[list[Path] | None, typer.Option(
    "--data-models", metavar="DIR",
    help="More Panther data models (directories of datamodel YAML) for udm(); data_models/ beside "
         "a repository's global_helpers/ is found without it.")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--sigma-config", metavar="FILE",
    help="YAML file giving values to Sigma `expand` placeholders: `placeholders:` maps each name "
         "to a list of values.")]


def load_context(helpers: Sequence[Path] | None, sigma_config: Path | None, allow_python: bool,
                 data_models: Sequence[Path] | None = None) -> LoadContext:
    """The rule-loading context the options describe (Sigma placeholders, Panther helpers and
    data models)."""
    placeholders: dict[str, tuple[str, ...]] = {}
    if sigma_config is not None:
        import yaml

        try:
            data = yaml.safe_load(sigma_config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            fail(f"--sigma-config {sigma_config}: cannot read: {getattr(exc, 'strerror', None) or exc}")
        raw = data.get("placeholders", data) if isinstance(data, dict) else {}
        if not isinstance(raw, dict):
            fail(f"--sigma-config {sigma_config}: 'placeholders' must map each name to a list of values")
        placeholders = {str(k): tuple(str(x) for x in (v if isinstance(v, list) else [v])) for k, v in raw.items()}
    return LoadContext(placeholders=placeholders, helper_dirs=tuple(helpers or ()),
                       data_model_dirs=tuple(data_models or ()), allow_python=allow_python)


def load(rules: Sequence[Path] | None, helpers=None, sigma_config=None, *,
         data_models: Sequence[Path] | None = None, quiet: bool = False) -> LoadResult:
    """Load the named rules (Python rules allowed: the user named the paths) or the bundled pack."""
    # Python rules run only from paths the user named, never from the bundled pack.
    context = load_context(helpers, sigma_config, allow_python=bool(rules), data_models=data_models)
    result = api.load_rules(rules or None, context=context)
    if not quiet:
        for e in result.errors:
            report("error", "red", e)
        if result.skipped:
            note(skipped_files_line(result.skipped))
        python = [r for r in result.runnable if isinstance(r.logic, PythonLogic)]
        if python:
            note(f"about to run {len(python)} Python rule(s) from "
                 f"{', '.join(sorted({str(p) for p in (rules or [])}))}")
    return result


def skipped_files_line(skipped: Sequence[tuple[str, str]]) -> str:
    """One line counting the files loading left unread on purpose (Panther: those pat test does
    not read), per reason."""
    from collections import Counter

    counts = Counter(reason for _, reason in skipped)
    reasons = "; ".join(f"{reason} ({n})" for reason, n in sorted(counts.items()))
    return f"skipped {len(skipped)} file(s) left unread on purpose: {reasons}"


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error line and stop with ``code``."""
    report("error", "red", message)
    raise typer.Exit(code)


class OptionFile:
    """A binary file an option names for output. Opening or writing it fails in one line naming
    the option and the file (exit 2), whenever the failure comes: ``--matches`` and
    ``--dead-letter`` are written during the scan, a full disk may show only when a buffer is
    flushed or the file closed."""

    def __init__(self, path: Path, option: str) -> None:
        self.path, self.option, self.failed = path, option, False
        try:
            self.fh = open(path, "wb")  # noqa: SIM115 - closed by close()/__exit__
        except OSError as exc:
            self._fail(exc)

    def write(self, data: bytes) -> int:
        try:
            return self.fh.write(data)
        except OSError as exc:
            self._fail(exc)

    def flush(self) -> None:
        try:
            self.fh.flush()
        except OSError as exc:
            self._fail(exc)

    def fileno(self) -> int:
        """The file's descriptor (to sync it to disk)."""
        return self.fh.fileno()

    def close(self) -> None:
        if self.failed:  # reported once; what is still buffered cannot be written either
            with contextlib.suppress(OSError):
                self.fh.close()
            return
        try:
            self.fh.close()
        except OSError as exc:
            self._fail(exc)

    def __enter__(self) -> OptionFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if hasattr(self, "fh"):
            self.close()

    def _fail(self, exc: OSError) -> NoReturn:
        self.failed = True
        fail(f"{self.option} {self.path}: cannot write: {exc.strerror or exc}")


def open_write(path: Path, option: str) -> OptionFile:
    """Open the file an option names for writing, or stop with one line naming both (exit 2)."""
    return OptionFile(path, option)


@contextlib.contextmanager
def open_out(path: Path | None) -> Iterator[IO[bytes] | OptionFile]:
    """The output file named by ``-o`` (stdout when None). A write that fails (a full disk,
    ``/dev/full``) stops the command with one line naming the output; a closed pipe is left to
    the entry point, which exits quietly as Unix tools do."""
    if path is not None:
        with open_write(path, "--output") as fh:
            yield fh
        return
    try:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise
        fail(f"standard output: cannot write: {exc.strerror or exc}")


def require_stdin(paths: Sequence[str]) -> None:
    """Stop with one line when ``-`` names standard input and the process has none."""
    from tokentrail.cli.streams import ClosedStream

    if "-" in paths and (sys.stdin is None or isinstance(sys.stdin, ClosedStream)):
        fail("'-': cannot read standard input: it is closed")


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
