"""One exception family for the whole library; each error can name the file and line it is about."""

from __future__ import annotations

import traceback
from pathlib import Path


class TokenTrailError(Exception):
    """Base error. ``str(err)`` is one line: ``file:line: message`` when a location is known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        return f"{where}{self.message}".replace("\n", " ")


class RuleLoadError(TokenTrailError):
    """A rule file could not be read or lowered to the IR."""


class UnsupportedFeature(RuleLoadError):
    """A rule uses a feature TokenTrail does not run; ``feature`` names it, ``reason`` says what
    it is without the "unsupported feature" prefix (for a status already labelled unsupported)."""

    def __init__(self, feature: str, *, file: str | None = None, line: int | None = None,
                 detail: str = "") -> None:
        self.reason = feature + (f" ({detail})" if detail else "")
        super().__init__(f"unsupported feature: {self.reason}", file=file, line=line)
        self.feature = feature


class LogParseError(TokenTrailError):
    """A log line or record could not be parsed."""


class ConfigError(TokenTrailError):
    """Bad option or configuration given by the user."""


class StateError(TokenTrailError):
    """The state file cannot be used: in use by another scan, read-only, corrupt, unreadable."""


_PACKAGE_DIR = str(Path(__file__).resolve().parent)  # frames inside TokenTrail itself
_MAX_MESSAGE = 300


def summarize_exception(exc: BaseException) -> str:
    """``Type: message (at file.py:line in function)`` on one line, naming the deepest frame
    that is rule code rather than TokenTrail's own."""
    message = " ".join(str(exc).split())
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if not f.filename.startswith(_PACKAGE_DIR)] or frames
    if user:
        frame = user[-1]
        text += f" (at {Path(frame.filename).name}:{frame.lineno} in {frame.name})"
    return text
