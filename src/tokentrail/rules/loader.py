"""Rule discovery and loading: walk paths, hand each file to the format that claims it, collect
errors instead of stopping at the first broken rule."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tokentrail.errors import RuleLoadError, TokenTrailError
from tokentrail.rules.ir import MAX_DEPTH, depth
from tokentrail.rules.model import Correlation, PythonLogic, Rule


@dataclass(frozen=True)
class LoadContext:
    """Options a front-end may need: Sigma ``expand`` placeholders, Panther helper dirs, ..."""

    placeholders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    helper_dirs: tuple[Path, ...] = ()
    # Panther data models to load besides those found next to a repository's global_helpers/.
    data_model_dirs: tuple[Path, ...] = ()
    allow_python: bool = True
    options: dict[str, Any] = field(default_factory=dict)


class RuleFormat(Protocol):
    """A rule front-end. ``claims`` sniffs a file; ``load`` returns its rules or raises.

    A file holding several rules may return a ``LoadResult`` instead, so the rules that loaded
    are kept next to the errors of those that did not.
    """

    name: str

    def claims(self, path: Path, head: str) -> bool: ...

    def load(self, path: Path, context: LoadContext) -> list[Rule] | LoadResult: ...

    # Optional: ``skips(path, root) -> str | None``, a reason to leave a file found under the
    # directory ``root`` unread (Panther: folders ``pat test`` does not read); see ``load_rules``.


@dataclass(frozen=True)
class LoadResult:
    """Rules that loaded, and one error per file (or rule) that did not."""

    rules: tuple[Rule, ...]
    errors: tuple[TokenTrailError, ...]
    # Files found but deliberately not read: (file, reason).
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def runnable(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.runnable)

    @property
    def unsupported(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.unsupported is not None)


RULE_SUFFIXES = {".yml", ".yaml", ".toml", ".ndjson", ".json"}


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Rule files under ``paths`` (files as given; directories recursively), sorted per path.

    Sidecar test files (``*.tests.yml``) and hidden folders are skipped; their owners read them.
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(
                f for f in sorted(p.rglob("*"))
                if f.is_file() and f.suffix in RULE_SUFFIXES and not _is_sidecar(f)
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        else:
            found.append(p)
    return found


def _nesting_problem(rule: Rule) -> RuleLoadError | None:
    """An error when the rule's logic nests beyond ``MAX_DEPTH`` (engines could not compile it)."""
    logic = rule.logic
    if isinstance(logic, PythonLogic) or logic is None:
        return None
    exprs = [*(s.expr for s in logic.steps), logic.until] if isinstance(logic, Correlation) else [logic]
    deepest = max((depth(e) for e in exprs if e is not None), default=0)
    if deepest <= MAX_DEPTH:
        return None
    line = rule.metadata.get("line") if isinstance(rule.metadata.get("line"), int) else None
    return RuleLoadError(f"rule {rule.id!r}: its condition nests {deepest} levels deep "
                         f"(at most {MAX_DEPTH})", file=rule.path or None, line=line)


def _is_sidecar(path: Path) -> bool:
    return path.name.endswith((".tests.yml", ".tests.yaml"))


def load_rules(paths: Iterable[str | Path], *, context: LoadContext | None = None,
               formats: Sequence[RuleFormat] | None = None) -> LoadResult:
    """Load every rule under ``paths``. Never raises for a bad rule: it lands in ``errors``."""
    from tokentrail.formats import default_formats

    context = context or LoadContext()
    paths = list(paths)
    formats = list(formats) if formats is not None else default_formats()
    rules: list[Rule] = []
    errors: list[TokenTrailError] = []
    skipped: list[tuple[str, str]] = []
    skippers = [f.skips for f in formats if hasattr(f, "skips")]
    found = [(path, Path(root)) for root in paths for path in discover([root])]
    for path, root in found:
        reason = next((r for skip in skippers if (r := skip(path, root))), None) if root.is_dir() else None
        if reason:
            skipped.append((str(path), reason))
            continue
        if not path.exists():
            errors.append(RuleLoadError("no such file or directory", file=str(path)))
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as file:
                head = file.read(4096)  # enough to tell the format; the format reads the rest
        except OSError as exc:
            errors.append(RuleLoadError(f"cannot read: {exc.strerror}", file=str(path)))
            continue
        fmt = next((f for f in formats if f.claims(path, head)), None)
        if fmt is None:
            if path.suffix in {".yml", ".yaml", ".toml", ".ndjson"} or len(paths) == 1:
                errors.append(RuleLoadError("not a rule in any known format", file=str(path)))
            continue
        try:
            loaded = fmt.load(path, context)
            if isinstance(loaded, LoadResult):
                errors.extend(loaded.errors)
                loaded = list(loaded.rules)
            for rule in loaded:
                problem = _nesting_problem(rule)
                if problem is None:
                    rules.append(rule)
                else:
                    errors.append(problem)
        except TokenTrailError as exc:
            if not exc.file:
                exc.file = str(path)
            errors.append(exc)
        except RecursionError:
            errors.append(RuleLoadError(f"{fmt.name} rule nests too deeply to load", file=str(path)))
        except Exception as exc:  # a front-end bug must not stop the other rules loading
            errors.append(RuleLoadError(f"{fmt.name} loader failed: {type(exc).__name__}: {exc}",
                                        file=str(path)))
    # Cross-file steps (Sigma filters and correlation references) run once everything is loaded.
    for fmt in formats:
        finalize = getattr(fmt, "finalize", None)
        if finalize is not None:
            try:
                rules, more = finalize(rules)
            except Exception as exc:  # report it; the rules as loaded still run
                more = [RuleLoadError(f"{fmt.name} cross-file step failed: {type(exc).__name__}: {exc}")]
            errors.extend(more)
    return LoadResult(tuple(rules), tuple(errors), tuple(skipped))
