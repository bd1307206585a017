"""SIEM queries through pySigma's official backends, fed with the Sigma TokenTrail writes.

Targets: ``splunk`` (SPL, pysigma-backend-splunk), ``lucene``, ``esql`` and ``eql``
(pysigma-backend-elasticsearch), ``kusto`` (Microsoft Sentinel / Defender KQL,
pysigma-backend-kusto). Each target: what its language can say (``Capabilities``, used by
``adapt`` before the Sigma is written), its default field names and a processing pipeline built
from our data files (field renames, the ECS dataset condition, the Sentinel table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

from sigma.backends.elasticsearch import EqlBackend, ESQLBackend, LuceneBackend
from sigma.backends.kusto import KustoBackend
from sigma.backends.splunk import SplunkBackend
from sigma.collection import SigmaCollection
from sigma.conversion.base import Backend
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline, QueryPostprocessingItem
from sigma.processing.postprocessing import EmbedQueryTransformation
from sigma.processing.transformations import AddConditionTransformation, FieldMappingTransformation

from tokentrail.convert import fields as names
from tokentrail.convert.adapt import Capabilities, adapt
from tokentrail.convert.errors import Unconvertible
from tokentrail.convert.forms import Form, form_of
from tokentrail.convert.sigma import SigmaRule, selection_fields, to_sigma
from tokentrail.formats.sigma import compat
from tokentrail.rules.ir import Expr
from tokentrail.rules.model import Correlation, Rule
from tokentrail.schemas import ecs_constants, registry

compat.install()


class _EqlSequenceBackend(EqlBackend):
    """The Elasticsearch EQL backend, with its ordered-sequence query fixed: it appends the
    aggregation and count of other correlation types (``by  with runs=2``), which EQL rejects."""

    temporal_ordered_correlation_query: ClassVar[dict[str, str]] = {
        "sequence": "sequence {groupby} with maxspan={timespan} \n {search}"
    }


class _KustoBackend(KustoBackend):
    """The Kusto backend, with booleans compared by ``==``: it writes ``field =~ true``, and
    KQL's ``=~`` compares strings only."""

    def convert_condition_field_eq_val_bool(self, cond, state):  # type: ignore[no-untyped-def]
        return self.escape_and_quote_field(cond.field) + self.num_eq_token + self.bool_values[cond.value.boolean]


@dataclass(frozen=True)
class SiemTarget:
    """One SIEM query language."""

    name: str
    backend: type[Backend]
    schema: str  # default field names: native, ecs or sentinel
    caps: Capabilities
    # Said of every correlation query of this target (how its backend groups events in time).
    correlation_note: str = ""


_STATS = "the query counts in fixed time buckets of the timespan, not in a window sliding over each event"
TARGETS: dict[str, SiemTarget] = {
    "splunk": SiemTarget("splunk", SplunkBackend, "native",
                         Capabilities(case="insensitive", glob_single_char=False, keyword_terms=True,
                                      correlations=frozenset({"event_count", "value_count", "temporal"})),
                         _STATS),
    "lucene": SiemTarget("lucene", LuceneBackend, "ecs",
                         Capabilities(case="keyword", fieldref=False, regex_search=False)),
    "esql": SiemTarget("esql", ESQLBackend, "ecs",
                       Capabilities(case="keyword", keywords=False, regex_search=False,
                                    correlations=frozenset({"event_count", "value_count", "temporal"})),
                       _STATS),
    "eql": SiemTarget("eql", _EqlSequenceBackend, "ecs",
                      Capabilities(case="both", exists=False, fieldref=False, keywords=False,
                                   regex_search=False,
                                   correlations=frozenset({"event_count", "temporal", "temporal_ordered"}))),
    "kusto": SiemTarget("kusto", _KustoBackend, "sentinel",
                        Capabilities(case="insensitive", fieldref=False, keywords=False,
                                     glob_anchored=False, ipv6_cidr=False)),
}

# Correlation kinds whose meaning a backend's query changes, per target.
_CORRELATION_CAVEATS = {
    ("eql", "event_count"): "EQL counts the events as a sequence of that many runs of the rule "
                            "within the timespan (at least that many; other comparisons are refused)",
    ("eql", "temporal"): "EQL's 'sample' finds every rule's event per group but has no timespan",
}


def to_siem(rule: Rule, target: SiemTarget, schema: str | None,
            resolve: Callable[[str], Rule | None]) -> tuple[str, list[str]]:
    """The query for ``rule`` on ``target`` and its caveats; raises ``Unconvertible``.

    ``resolve`` finds the rules a correlation names.
    """
    caveats: list[str] = []
    form = _adapted(form_of(rule, "native"), target.caps, caveats)
    sigma = to_sigma(rule, form, resolve, lambda r: _adapted(form_of(r, "native"), target.caps, caveats))
    caveats.extend(sigma.caveats)
    correlation = next((d["correlation"] for d in sigma.documents if "correlation" in d), None)
    summarize = False
    if correlation is not None:
        kind = correlation["type"]
        summarize = target.name == "kusto" and kind in _SUMMARIZE and len(correlation["rules"]) == 1
        if kind not in target.caps.correlations and not summarize:
            raise Unconvertible(f"the {target.name} backend has no {kind} correlation")
        if (target.name, kind) == ("eql", "event_count") and "gte" not in correlation["condition"]:
            raise Unconvertible("EQL counts events as sequence runs, which says 'at least' only")
        if note := _CORRELATION_CAVEATS.get((target.name, kind)):
            caveats.append(note)
        if target.correlation_note:
            caveats.append(target.correlation_note)
    pipeline, mapped = _pipeline(target, schema or target.schema, form, sigma)
    if mapped.missing:
        raise Unconvertible("; ".join(mapped.missing))
    documents = [d for d in sigma.documents if not (summarize and "correlation" in d)]
    try:
        collection = SigmaCollection.from_dicts(documents)
        queries = target.backend(processing_pipeline=pipeline).convert(collection)
    except (SigmaError, NotImplementedError) as exc:
        raise Unconvertible(f"the {target.name} backend cannot write it: {_message(exc)}") from None
    if not queries:
        raise Unconvertible(f"the {target.name} backend wrote no query")
    if summarize:
        assert correlation is not None
        return _kusto_summarize(str(queries[-1]), correlation, mapped.mapping, caveats), caveats
    return str(queries[-1]), caveats


# Counting correlations the Kusto backend lacks, written here as KQL ``summarize``.
_SUMMARIZE = frozenset({"event_count", "value_count"})
_KQL_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "==", "neq": "!="}


def _kusto_summarize(search: str, correlation: dict, mapping: Mapping[str, str], caveats: list[str]) -> str:
    """A counting correlation as KQL: the rule's search, then a count per group and time bucket
    (``TimeGenerated``, the time column of every Log Analytics table) and the condition."""
    ((op, number),) = ((k, v) for k, v in correlation["condition"].items() if k != "field")
    columns = ", ".join(_kql_name(mapping.get(f, f)) for f in correlation.get("group-by") or ())
    by = f"bin(TimeGenerated, {correlation['timespan']})" + (f", {columns}" if columns else "")
    if correlation["type"] == "value_count":
        field = correlation["condition"]["field"]
        aggregate = f"value_count = dcount({_kql_name(mapping.get(field, field))})"
        caveats.append("KQL's dcount() estimates the number of distinct values (exact for small counts)")
        name = "value_count"
    else:
        aggregate, name = "event_count = count()", "event_count"
    caveats.append(_STATS)
    return f"{search}\n| summarize {aggregate} by {by}\n| where {name} {_KQL_OPS[op]} {number}"


def _kql_name(column: str) -> str:
    return column if column.replace("_", "").isalnum() else f"['{column}']"


def _adapted(form: Form, caps: Capabilities, caveats: list[str]) -> Form:
    logic = form.logic
    if isinstance(logic, Correlation):
        steps = tuple(replace(s, expr=adapt(s.expr, caps, caveats) if s.expr is not None else None)
                      for s in logic.steps)
        return replace(form, logic=replace(logic, steps=steps))
    return replace(form, logic=adapt(logic, caps, caveats))


def _pipeline(target: SiemTarget, schema: str, form: Form,
              sigma: SigmaRule) -> tuple[ProcessingPipeline, names.Names]:
    used = selection_fields(sigma.documents)
    family = form.family or _family_of(sigma)
    items: list[ProcessingItem] = []
    post: list[QueryPostprocessingItem] = []
    if schema == "ecs":
        mapped = names.ecs_names(used, family)
        dataset = ecs_constants(family).get("event.dataset") if family else None
        if dataset:
            items.append(ProcessingItem(AddConditionTransformation({"event.dataset": dataset}),
                                        identifier="tokentrail_ecs_dataset"))
    elif schema == "sentinel":
        mapped = names.sentinel_names(used, family, names.value_kinds(_exprs(form)))
        if mapped.table:
            post.append(QueryPostprocessingItem(EmbedQueryTransformation(prefix=f"{mapped.table}\n| where "),
                                                identifier="tokentrail_sentinel_table"))
    elif target.name == "splunk":
        mapped = names.splunk_names(used, family)
    else:
        mapped = names.Names({f: f for f in used})
    renames = {k: v for k, v in mapped.mapping.items() if k != v}
    if renames:
        items.insert(0, ProcessingItem(FieldMappingTransformation(renames),
                                       identifier=f"tokentrail_{schema}_fields"))
    pipeline = ProcessingPipeline(name=f"TokenTrail {schema} field names", priority=20, items=items,
                                  postprocessing_items=post)
    return pipeline, mapped


def _family_of(sigma: SigmaRule) -> str:
    products = {str(d.get("logsource", {}).get("product", "")).lower() for d in sigma.documents}
    families = {lt.family for lt in registry().log_types if lt.product in products}
    return next(iter(families)) if len(families) == 1 else ""


def _exprs(form: Form) -> list[Expr]:
    logic = form.logic
    if isinstance(logic, Correlation):
        return [s.expr for s in logic.steps if s.expr is not None]
    return [logic]


def _message(exc: Exception) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return text.split(" (while converting")[0].rstrip(".")
