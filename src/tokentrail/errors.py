"""One exception family for the whole library; each error can name the file and line it is about."""

from __future__ import annotations


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
    """A rule uses a feature TokenTrail does not run; ``feature`` names it."""

    def __init__(self, feature: str, *, file: str | None = None, line: int | None = None,
                 detail: str = "") -> None:
        msg = f"unsupported feature: {feature}" + (f" ({detail})" if detail else "")
        super().__init__(msg, file=file, line=line)
        self.feature = feature


class LogParseError(TokenTrailError):
    """A log line or record could not be parsed."""


class ConfigError(TokenTrailError):
    """Bad option or configuration given by the user."""
