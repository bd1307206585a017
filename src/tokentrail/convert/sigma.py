"""Write any declarative rule as Sigma: detection and condition from the IR, correlations from
thresholds and sequences, the rule's metadata.

The detection says what the IR says, leaf for leaf: each comparison is a Sigma value with the
modifiers of its operator (``contains``, ``startswith``, ``endswith``, ``re``, ``cidr``,
``lt``..``ge``, ``exists``, ``fieldref``, ``cased``, ``all``); plain strings have Sigma's
wildcard characters escaped, globs are Sigma wildcards; full-text ``Keywords`` are keyword
selections. A group of comparisons on distinct fields becomes one selection (a Sigma mapping is
an AND), alternatives on one field one value list (an OR); the condition spells the rest of the
tree with ``and``/``or``/``not``.

A rule whose alerts need several events becomes several documents: its event rule (named, not
generating alerts of its own) and a Sigma correlation over it — an Elastic threshold an
``event_count`` or ``value_count``, an EQL sequence a ``temporal_ordered`` over one rule per step.
What Sigma cannot say is returned as caveats, never dropped silently.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import yaml

from tokentrail.convert.errors import Unconvertible
from tokentrail.convert.forms import Form
from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, Expr, FieldRef, Keywords, Not, Scalar
from tokentrail.rules.model import Correlation, Grouping, Rule

SIGMA_STATUS = frozenset({"stable", "test", "experimental", "deprecated", "unsupported"})
_STATUS_ALIASES = {"production": "stable", "development": "experimental"}
_LEVEL = {"info": "informational"}
_TAG = re.compile(r"^[a-z0-9_-]+\.[a-z0-9._-]+$")
_NAMESPACE = uuid.UUID("6f0c4a52-6a35-4a8e-9d39-1d6a7c7c2f10")
_OP_MODIFIER = {"contains": "contains", "startswith": "startswith", "endswith": "endswith",
                "regex": "re", "cidr": "cidr", "lt": "lt", "le": "lte", "gt": "gt", "ge": "gte"}
_STRING_OPS = frozenset({"eq", "contains", "startswith", "endswith", "glob"})
# Default window of a threshold without one (Elastic's look-back is the rule's ``from``).
_DEFAULT_WINDOW = 3600.0


@dataclass(frozen=True)
class SigmaRule:
    """The Sigma documents of one rule (event rules first, then a correlation, if any) and what
    they do not say."""

    documents: tuple[dict, ...]
    caveats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "caveats", tuple(dict.fromkeys(self.caveats)))

    def yaml(self) -> str:
        """The documents as one YAML text (``---`` between documents)."""
        return yaml.dump_all(list(self.documents), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                             default_flow_style=False, width=100)


class _Dumper(yaml.SafeDumper):
    """Writes text of several lines (descriptions) as a literal block, as Sigma rules do."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def sigma_id(rule_id: str) -> str:
    """A Sigma ``id`` (a UUID) for a rule id: the id itself when it is one, else one derived from it."""
    try:
        return str(uuid.UUID(rule_id))
    except ValueError:
        return str(uuid.uuid5(_NAMESPACE, rule_id))


def rule_name(rule_id: str) -> str:
    """The Sigma ``name`` correlations use to refer to a rule."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", rule_id).strip("_") or "rule"


def to_sigma(rule: Rule, form: Form, resolve: Callable[[str], Rule | None],
             form_for: Callable[[Rule], Form]) -> SigmaRule:
    """The Sigma documents for ``rule``, whose logic in the wanted dialect is ``form``.

    ``resolve`` finds the rules a correlation names (by id or name); ``form_for`` gives their
    logic in the same dialect. Raises ``Unconvertible`` when Sigma cannot express the rule.
    """
    caveats: list[str] = []
    meta = metadata(rule, form)
    logic = form.logic
    if isinstance(logic, Correlation):
        return _correlation(rule, form, logic, meta, resolve, form_for, caveats)
    body = detection(logic, caveats)
    grouping = form.grouping
    if grouping.new_terms:
        caveats.append(f"new_terms on {', '.join(grouping.new_terms)} has no Sigma equivalent: the "
                       "query matches every event of the rule, seen before or not")
    if grouping.query is not None:
        caveats.append("the ES|QL condition over aggregates (STATS ... | WHERE) has no Sigma equivalent: "
                       "the query matches every event the rule groups")
    if grouping.query is not None or (grouping.threshold <= 1 and grouping.distinct_field is None):
        return SigmaRule(({**meta, "detection": body, **_tail(rule)},), tuple(caveats))
    # The event rule needs a name and id of its own: a reference to the rule's id would name the
    # correlation itself.
    base = {**meta, "id": sigma_id(rule.id + "#events"), "name": rule_name(rule.id + "_events"),
            "detection": body, **_tail(rule)}
    corr = _threshold_correlation(rule, grouping, caveats)
    return SigmaRule((base, {**_header(rule, form), "correlation": corr, **_level(rule)}), tuple(caveats))


def metadata(rule: Rule, form: Form) -> dict:
    """The descriptive keys of the rule's Sigma document, in Sigma's customary order."""
    out = _header(rule, form)
    out["logsource"] = _logsource(rule, form)
    return out


def _header(rule: Rule, form: Form) -> dict:
    out: dict = {"title": rule.title or rule.id, "id": sigma_id(rule.id)}
    if rule.name:
        out["name"] = rule.name
    status = _STATUS_ALIASES.get(rule.status, rule.status)
    out["status"] = status if status in SIGMA_STATUS else "experimental"
    if rule.description:
        out["description"] = rule.description
    if rule.references:
        out["references"] = list(rule.references)
    author = rule.metadata.get("author")
    if isinstance(author, list):
        author = ", ".join(map(str, author))
    if author:
        out["author"] = str(author)
    tags = _tags(rule)
    if tags:
        out["tags"] = tags
    return out


def _tail(rule: Rule) -> dict:
    out: dict = {}
    if rule.false_positives:
        out["falsepositives"] = list(rule.false_positives)
    out.update(_level(rule))
    return out


def _level(rule: Rule) -> dict:
    return {"level": _LEVEL.get(rule.severity, rule.severity)}


def _tags(rule: Rule) -> list[str]:
    tags = [t.lower() for t in rule.tags if _TAG.match(t.lower())]
    tags += [f"attack.{_tactic_name(t)}" for t in rule.tactics]
    tags += [f"attack.{t.lower()}" for t in rule.techniques]
    return list(dict.fromkeys(tags))


def _tactic_name(tactic: str) -> str:
    """Sigma tags name tactics by their short name (``credential-access``), not their id."""
    if re.fullmatch(r"TA\d{4}", tactic.upper()):
        from tokentrail.catalog.attack import load_attack

        found = next((t.shortname for t in load_attack().tactics if t.id == tactic.upper()), None)
        if found:
            return found
    return tactic.lower()


def _logsource(rule: Rule, form: Form) -> dict:
    source = rule.logsource
    out = {k: v for k, v in (("category", source.category), ("product", source.product),
                             ("service", source.service)) if v}
    if "product" not in out and form.family:
        out["product"] = form.family
    return out


# ---------------------------------------------------------------------------------------------
# Detection


def detection(expr: Expr, caveats: list[str]) -> dict:
    """A Sigma ``detection`` section meaning ``expr``."""
    builder = _Detection(caveats)
    condition = builder.condition(expr, top=True)
    return {**builder.selections, "condition": condition}


@dataclass
class _Detection:
    caveats: list[str]
    selections: dict[str, object] = field(default_factory=dict)

    def add(self, body: object, keyword: bool = False) -> str:
        name = f"{'keywords' if keyword else 'selection'}_{len(self.selections) + 1}"
        self.selections[name] = body
        return name

    def condition(self, expr: Expr, top: bool = False) -> str:
        mapping = self.mapping(expr)
        if mapping is not None:
            return self.add(mapping)
        match expr:
            case Exists(field=name, non_null=True):
                # "Has a value that is not null" is "not null" in Sigma (null matches a missing
                # field too); only an array holding values and nulls tells them apart.
                self.caveats.append(f"{name}: an array holding both values and nulls counts as null "
                                    "in Sigma, as having a value in the rule")
                return "not " + self.add({name: None})
            case Keywords():
                return self.keywords(expr)
            case All(items):
                return " and ".join(self.operand(i, All) for i in items)
            case Any(items):
                return " or ".join(self.operand(i, Any) for i in items)
            case Not(item):
                return "not " + self.operand(item, Not)
            case Const(value):
                raise Unconvertible(f"the rule's condition is always {str(value).lower()} for these "
                                    "events; Sigma has no constant condition")
        raise Unconvertible(f"no Sigma form for {type(expr).__name__}")

    def operand(self, expr: Expr, parent: type) -> str:
        text = self.condition(expr)
        simple = self.mapping(expr) is not None or isinstance(expr, Keywords) or \
            (isinstance(expr, Not | Exists) and parent is not Not)
        if simple or (parent is Any and isinstance(expr, All)):
            return text
        return f"({text})"

    def mapping(self, expr: Expr) -> dict | None:
        """``expr`` as one selection mapping (AND of its keys), when it can be one."""
        match expr:
            case Exists(non_null=True):
                return None
            case Cmp() | Exists() | FieldRef():
                key, value = self.leaf(expr)
                return {key: value}
            case All(items) if items:
                out: dict = {}
                for item in items:
                    part = self.mapping(item) if not isinstance(item, All) else None
                    if part is None or len(part) != 1 or next(iter(part)) in out:
                        return None
                    out.update(part)
                return out
            case Any(items) if len(items) > 1 and all(isinstance(i, Cmp) for i in items):
                first = items[0]
                same = all(i.field == first.field and i.op == first.op and i.cased == first.cased
                           and not i.all_values for i in items)  # type: ignore[union-attr]
                if not same:
                    return None
                values = tuple(v for i in items for v in i.values)  # type: ignore[union-attr]
                key, value = self.leaf(Cmp(first.field, first.op, values, cased=first.cased))
                return {key: value}
        return None

    def leaf(self, expr: Cmp | Exists | FieldRef) -> tuple[str, object]:
        match expr:
            case Exists(field=name):
                return f"{name}|exists", True
            case FieldRef(field=name, other=other, op=op, cased=cased):
                mods = {"eq": "", "startswith": "|startswith", "endswith": "|endswith",
                        "contains": "|contains"}.get(op)
                if mods is None:
                    raise Unconvertible(f"Sigma field references compare for equality or position, "
                                        f"not '{op}' ({name} and {other})")
                if cased:
                    self.caveats.append(f"{name} = {other}: Sigma field references have no case-"
                                        "sensitive form")
                return f"{name}|fieldref{mods}", other
            case Cmp():
                return cmp_leaf(expr)
        raise Unconvertible(f"no Sigma form for {type(expr).__name__}")

    def keywords(self, expr: Keywords) -> str:
        if expr.op == "regex":
            values: list[str] = list(expr.values)
            mods = ["re"]
        elif expr.op == "glob":
            values = [glob_to_sigma(v) for v in expr.values]
            mods = []
            if any(not (v.startswith("*") and v.endswith("*")) for v in expr.values):
                self.caveats.append("a full-text pattern anchored to a whole value is a Sigma keyword, "
                                    "which is found anywhere in a value")
        elif expr.op == "contains":
            values = [escape(v) for v in expr.values]
            mods = []
        else:
            raise Unconvertible(f"no Sigma keyword for the '{expr.op}' operator")
        if expr.cased and expr.op != "regex":
            mods.append("cased")
        if expr.all_values and len(values) > 1:
            mods.append("all")
        body: object = {"|" + "|".join(mods): _one_or_list(values)} if mods else list(values)
        return self.add(body, keyword=True)


def cmp_leaf(cmp: Cmp) -> tuple[str, object]:
    """The detection key (field and modifiers) and value(s) of one comparison."""
    mods: list[str] = []
    op = cmp.op
    if op in _STRING_OPS:
        values = [_string_value(v, op) for v in cmp.values]
        if op in _OP_MODIFIER:
            mods.append(_OP_MODIFIER[op])
        if cmp.cased and any(isinstance(v, str) for v in cmp.values):
            mods.append("cased")
    elif op in ("lt", "le", "gt", "ge"):
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in cmp.values):
            raise Unconvertible(f"{cmp.field}: Sigma compares numbers only, not "
                                f"{', '.join(repr(v) for v in cmp.values)}")
        values = list(cmp.values)
        mods.append(_OP_MODIFIER[op])
    elif op == "regex":
        values = [str(v) for v in cmp.values]
        mods.append("re")
    else:  # cidr
        values = [str(v) for v in cmp.values]
        mods.append("cidr")
    if cmp.all_values and len(values) > 1:
        mods.append("all")
    key = cmp.field + "".join(f"|{m}" for m in mods)
    return key, _one_or_list(values)


def _string_value(value: Scalar, op: str) -> Scalar:
    if not isinstance(value, str):
        if op != "eq" and value is not None:
            return escape(str(value))
        return value
    return glob_to_sigma(value) if op == "glob" else escape(value)


def escape(text: str) -> str:
    """A plain string as a Sigma string: wildcards and backslashes escaped."""
    return re.sub(r"([*?\\])", r"\\\1", text)


def glob_to_sigma(pattern: str) -> str:
    """An IR glob (``*``, ``?``, ``\\`` escapes the next character) as a Sigma wildcard string."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "\\")
            out.append(escape(nxt))
        elif ch in "*?":
            out.append(ch)
        else:
            out.append(ch)
    return "".join(out)


def _one_or_list(values: Sequence[object]) -> object:
    return values[0] if len(values) == 1 else list(values)


# ---------------------------------------------------------------------------------------------
# Correlations


def timespan(seconds: float) -> str:
    """Seconds as a Sigma timespan (the largest unit that divides it)."""
    whole = max(1, int(round(seconds)))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def _threshold_correlation(rule: Rule, grouping: Grouping, caveats: list[str]) -> dict:
    window = grouping.window
    if window is None:
        window = float(rule.metadata.get("lookback_seconds") or _DEFAULT_WINDOW)
        caveats.append(f"the threshold has no window of its own: the correlation counts over "
                       f"{timespan(window)} (the rule's look-back)")
    corr: dict = {"type": "event_count", "rules": [rule_name(rule.id + "_events")]}
    if grouping.group_by:
        corr["group-by"] = list(grouping.group_by)
    corr["timespan"] = timespan(window)
    if grouping.distinct_field:
        corr["type"] = "value_count"
        corr["condition"] = {"gte": grouping.distinct_threshold, "field": grouping.distinct_field}
        if grouping.threshold > 1:
            caveats.append(f"a Sigma correlation has one condition: the count of at least "
                           f"{grouping.threshold} events is dropped, the {grouping.distinct_threshold} "
                           f"distinct values of {grouping.distinct_field} kept")
    else:
        corr["condition"] = {"gte": grouping.threshold}
    return corr


_CORRELATION_TYPE = {"event_count": "event_count", "value_count": "value_count", "temporal": "temporal",
                     "temporal_ordered": "temporal_ordered", "sequence": "temporal_ordered"}


def _correlation(rule: Rule, form: Form, logic: Correlation, meta: dict,
                 resolve: Callable[[str], Rule | None], form_for: Callable[[Rule], Form],
                 caveats: list[str]) -> SigmaRule:
    documents: list[dict] = []
    names: list[str] = []
    for n, step in enumerate(logic.steps, start=1):
        if step.expr is not None:
            name = rule_name(f"{rule.id}_{step.name or n}")
            documents.append({**meta, "title": f"{rule.title or rule.id}: {step.name or f'step {n}'}",
                              "id": sigma_id(f"{rule.id}#{n}"), "name": name,
                              "detection": detection(step.expr, caveats), **_level(rule)})
        else:
            ref = step.rule_ref or step.name
            target = resolve(ref)
            if target is None:
                raise Unconvertible(f"the correlation names rule {ref!r}, which was not given")
            if not isinstance(target.logic, Expr):
                raise Unconvertible(f"the correlation names rule {ref!r}, which is not an event rule")
            name = target.name or rule_name(target.id)
            if name not in names:
                step_form = form_for(target)
                documents.append({**metadata(target, step_form), "name": name,
                                  "detection": detection(step_form.logic, caveats),  # type: ignore[arg-type]
                                  **_level(target)})
        names.extend([name] * max(1, step.runs))
        if step.runs > 1 and logic.kind != "sequence":
            caveats.append(f"step {step.name!r} repeats {step.runs} times, which Sigma cannot count")
    group_by = _group_by(logic)
    corr: dict = {"type": _CORRELATION_TYPE[logic.kind], "rules": list(dict.fromkeys(names))
                  if logic.kind in ("event_count", "value_count") else names}
    if group_by:
        corr["group-by"] = group_by
    if logic.timespan is None:
        raise Unconvertible("a Sigma correlation needs a timespan; the rule has none")
    corr["timespan"] = timespan(logic.timespan)
    if logic.kind in ("event_count", "value_count"):
        op, number = logic.condition or ("gte", 1)
        condition: dict = {op: int(number) if float(number).is_integer() else number}
        if logic.value_field:
            condition["field"] = logic.value_field
        corr["condition"] = condition
    if logic.until is not None:
        caveats.append("the sequence's 'until' condition has no Sigma equivalent and is dropped")
    if logic.kind == "sequence" and any(s.runs > 1 for s in logic.steps):
        caveats.append("repeated sequence steps ('with runs') are written as that many steps")
    if logic.generate:
        corr["generate"] = True
    header = _header(rule, form)
    return SigmaRule((*documents, {**header, "correlation": corr, **_level(rule)}), tuple(caveats))


def _group_by(logic: Correlation) -> list[str]:
    fields: list[str] = []
    by = [step.by for step in logic.steps]
    if not by or not by[0]:
        return fields
    if any(b != by[0] for b in by):
        raise Unconvertible("the steps group by different fields; Sigma correlations need aliases "
                            "for that, which this converter does not write")
    return list(by[0])


def selection_fields(documents: Sequence[Mapping]) -> set[str]:
    """Every field named in the documents' detections and correlations (for field mappings)."""
    out: set[str] = set()
    for doc in documents:
        for name, body in (doc.get("detection") or {}).items():
            if name == "condition":
                continue
            for item in body if isinstance(body, list) else [body]:
                if isinstance(item, Mapping):
                    for key, value in item.items():
                        base = str(key).split("|")[0]
                        if base:
                            out.add(base)
                        if "|fieldref" in str(key):
                            out.add(str(value))
        corr = doc.get("correlation") or {}
        out.update(corr.get("group-by") or ())
        cond = corr.get("condition") or {}
        if isinstance(cond, Mapping) and cond.get("field"):
            out.add(str(cond["field"]))
    return out
