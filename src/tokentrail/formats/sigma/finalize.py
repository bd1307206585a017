"""Work that needs every rule file loaded: apply filters, resolve correlation references."""

from __future__ import annotations

from dataclasses import replace

from tokentrail.errors import RuleLoadError, TokenTrailError
from tokentrail.formats.sigma.correlation import RefIndex, rebind, step_refs
from tokentrail.formats.sigma.metadata import KIND_KEY, LINE_KEY
from tokentrail.formats.sigma.simplify import simplify
from tokentrail.rules.ir import All
from tokentrail.rules.model import Correlation, LogSource, Rule

# Rule.metadata key listing the ids of the filters applied to a rule, in order.
APPLIED_FILTERS_KEY = "sigma_filters"


def finalize(rules: list[Rule]) -> tuple[list[Rule], list[TokenTrailError]]:
    """Apply Sigma filters to the rules they name and drop them; check correlation references.

    A correlation whose references do not resolve (or form a cycle) is reported and dropped.
    """
    errors: list[TokenTrailError] = []
    filters = [r for r in rules if _kind(r) == "filter"]
    kept = [r for r in rules if _kind(r) != "filter"]
    index = RefIndex(kept)
    for filt in filters:
        kept = _apply_filter(filt, kept, index, errors)
    return _check_correlations(kept, errors), errors


def _kind(rule: Rule) -> str | None:
    return rule.metadata.get(KIND_KEY) if rule.format == "sigma" else None


def _line(rule: Rule) -> int | None:
    """Where the rule's document starts in its file (kept at load time), if known."""
    line = rule.metadata.get(LINE_KEY)
    return line if isinstance(line, int) else None


def _apply_filter(filt: Rule, rules: list[Rule], index: RefIndex,
                  errors: list[TokenTrailError]) -> list[Rule]:
    refs = (filt.metadata.get("filter") or {}).get("rules")
    if isinstance(refs, str) and refs.lower() != "any":
        refs = [refs]
    if not refs or isinstance(refs, str):
        # ``rules: any`` (or an empty list): every detection rule of the filter's log source.
        targets = {r.id for r in rules if _kind(r) == "rule" and _covers(filt.logsource, r.logsource)}
    else:
        targets = set()
        for ref in map(str, refs):
            rule_id = index.resolve(ref)
            target = next((r for r in rules if r.id == rule_id), None)
            problem = _target_problem(filt, ref, target)
            if problem:
                errors.append(RuleLoadError(f"filter {filt.title or filt.id!r}: {problem}",
                                            file=filt.path, line=_line(filt)))
            else:
                targets.add(rule_id)
    return [_filtered(r, filt) if r.id in targets and _kind(r) == "rule" else r for r in rules]


def _target_problem(filt: Rule, ref: str, target: Rule | None) -> str | None:
    if target is None:
        return f"rule {ref!r} is not loaded"
    if _kind(target) != "rule":
        return f"rule {ref!r} is not a Sigma detection rule"
    if not _covers(filt.logsource, target.logsource):
        return f"its log source does not match the log source of rule {ref!r}"
    return None


def _covers(outer: LogSource, inner: LogSource) -> bool:
    """Whether every log source attribute ``outer`` sets is the same in ``inner``."""
    pairs = ((outer.product, inner.product), (outer.service, inner.service),
             (outer.category, inner.category))
    return all(a is None or (b is not None and a.lower() == b.lower()) for a, b in pairs)


def _filtered(rule: Rule, filt: Rule) -> Rule:
    assert rule.logic is not None and filt.logic is not None
    applied = [*rule.metadata.get(APPLIED_FILTERS_KEY, ()), filt.id]
    return replace(rule, logic=simplify(All((rule.logic, filt.logic))),  # type: ignore[arg-type]
                   metadata={**rule.metadata, APPLIED_FILTERS_KEY: applied})


def _check_correlations(rules: list[Rule], errors: list[TokenTrailError]) -> list[Rule]:
    """Rebind correlations against all rules; drop the broken ones until none is left broken."""
    rules = list(rules)
    while True:
        index = RefIndex(rules)
        broken: dict[int, TokenTrailError] = {}
        for pos, rule in enumerate(rules):
            if _kind(rule) != "correlation" or not isinstance(rule.logic, Correlation):
                continue
            try:
                rules[pos] = replace(rule, logic=rebind(rule, index))
            except TokenTrailError as exc:
                exc.file = exc.file or rule.path
                exc.line = exc.line or _line(rule)
                broken[pos] = exc
            except Exception as exc:  # one odd correlation must not stop the whole rule set
                broken[pos] = RuleLoadError(f"correlation {rule.title!r} cannot be resolved: "
                                            f"{type(exc).__name__}: {exc}", file=rule.path, line=_line(rule))
        for pos in _cyclic(rules, index):
            broken.setdefault(pos, RuleLoadError(
                f"correlation {rules[pos].title!r} refers to itself through its rules",
                file=rules[pos].path, line=_line(rules[pos])))
        if not broken:
            return rules
        errors.extend(broken.values())
        rules = [r for pos, r in enumerate(rules) if pos not in broken]


def _cyclic(rules: list[Rule], index: RefIndex) -> list[int]:
    """Positions of correlations that reach themselves through their step references."""
    by_id = {r.id: pos for pos, r in enumerate(rules)}
    out = []
    for pos, rule in enumerate(rules):
        if _kind(rule) != "correlation":
            continue
        seen: set[str] = set()
        todo = [index.resolve(ref) for ref in step_refs(rule)]
        while todo:
            rid = todo.pop()
            if rid is None or rid in seen:
                continue
            if rid == rule.id:
                out.append(pos)
                break
            seen.add(rid)
            if rid in by_id:
                todo.extend(index.resolve(ref) for ref in step_refs(rules[by_id[rid]]))
    return out
