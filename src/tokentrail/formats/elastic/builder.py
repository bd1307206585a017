"""One Elastic rule (TOML ``[rule]`` table or Kibana saved object, same keys) -> ``Rule``.

Mapping into the common model:
  * ``rule_id`` -> ``Rule.id``, ``name`` -> ``title``; ``note`` (the investigation guide),
    ``risk_score``, ``max_signals``, ``from``, ``interval``, ``index``, ``query``... -> ``metadata``;
  * ``threat`` -> ``tactics`` (TA ids) and ``techniques`` (T ids, sub-techniques included);
  * ``index`` patterns (else ``[metadata] integration``) -> ``log_types``; rules are written with
    ECS names, so ``metadata["field_dialect"] = "ecs"``;
  * ``query`` (KQL), ``eql`` (event query or sequence), ``threshold``, ``new_terms`` and ``esql``
    rules run (ES|QL: the ``FROM`` indices route it, ``STATS ... BY`` makes its grouping, see
    ``esql.py``); ``machine_learning``, ``threat_match``, Lucene queries and constructs the IR cannot
    express load with ``Rule.unsupported`` set to the reason and no logic;
  * ``threshold``: ``Grouping(group_by=field, threshold=value, window=look-back)``; with a
    cardinality, ``distinct_field`` is its field and ``distinct_threshold`` the number
    of distinct values that must also be reached (``threshold`` stays the event count);
  * ``new_terms``: ``Grouping(new_terms=fields, history=seconds of history_window_start)``;
  * ``alert_suppression`` on other rule types: ``Grouping(group_by=..., window=duration)`` (no
    duration: one rule interval); on threshold rules it is kept in metadata only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tokentrail.errors import UnsupportedFeature
from tokentrail.formats.elastic.diagnostics import QueryPosition
from tokentrail.formats.elastic.durations import lookback_seconds, span_seconds, value_unit_seconds
from tokentrail.formats.elastic.eql import eql_to_logic
from tokentrail.formats.elastic.esql import esql_to_plan
from tokentrail.formats.elastic.indices import log_types_for_indices
from tokentrail.formats.elastic.kql import kql_to_ir
from tokentrail.rules.model import SEVERITIES, Grouping, Logic, OutputField, Rule, RuleTest

DEFAULT_FROM_SECONDS = 360.0  # Kibana's default look-back, "now-6m"
DEFAULT_INTERVAL_SECONDS = 300.0  # Kibana's default schedule, every 5m
_MATURITY_STATUS = {"production": "stable", "development": "experimental", "deprecated": "deprecated"}
_UNSUPPORTED_TYPES = {
    "machine_learning": "machine learning rules need Elastic ML jobs",
    "threat_match": "indicator match rules need a threat intelligence index",
}
# Rule keys copied into Rule.metadata as they are.
_METADATA_KEYS = (
    "risk_score", "max_signals", "from", "interval", "note", "setup", "author", "license", "version",
    "timestamp_override", "building_block_type", "rule_name_override", "risk_score_mapping",
    "severity_mapping", "related_integrations", "required_fields", "alert_suppression", "language",
    "query", "exceptions_list", "output_index",
)


def build_rule(spec: Mapping[str, Any], *, path: str, position: QueryPosition,
               file_metadata: Mapping[str, Any] | None = None,
               tests: Sequence[RuleTest] = ()) -> Rule:
    """Build a ``Rule`` from the keys of one Elastic rule; raise ``RuleLoadError`` on bad input."""
    file_metadata = dict(file_metadata or {})
    rule_id = _required_text(spec, "rule_id", position)
    title = _required_text(spec, "name", position)
    rule_type = str(spec.get("type") or "query")
    severity = str(spec.get("severity") or "medium").lower()
    if severity not in SEVERITIES:
        raise position.error(f"rule {rule_id}: unknown severity {spec.get('severity')!r}")
    tactics, techniques, threat = _threat(spec.get("threat"), position)
    indices = tuple(_strings(spec.get("index"), "index", position))
    integrations = _strings(file_metadata.get("integration"), "integration", position)
    metadata: dict[str, Any] = {k: spec[k] for k in _METADATA_KEYS if k in spec}
    metadata.update(field_dialect="ecs", rule_type=rule_type, index=indices, threat=threat)
    if position.first_line is not None:
        metadata["query_line"] = position.first_line
    for key in ("maturity", "creation_date", "updated_date", "integration", "min_stack_version"):
        if key in file_metadata:
            metadata[key] = file_metadata[key]
    lookback = _seconds_before(spec.get("from"), position)
    interval = span_seconds(str(spec["interval"])) if spec.get("interval") else DEFAULT_INTERVAL_SECONDS
    if interval is None:
        raise position.error(f"interval: expected a span such as 5m, got {spec['interval']!r}")
    metadata["lookback_seconds"] = lookback
    metadata["interval_seconds"] = interval

    logic: Logic | None = None
    unsupported: str | None = None
    grouping = Grouping()
    output_fields: tuple[OutputField, ...] = ()
    try:
        if rule_type == "esql":
            logic, grouping, from_indices, output_fields = _esql(spec, lookback, position)
            indices = indices or from_indices
            metadata["index"] = indices
        else:
            logic = _logic(spec, rule_type, position)
            grouping = _grouping(spec, rule_type, lookback, interval, position)
    except UnsupportedFeature as exc:
        logic, unsupported = None, exc.reason

    return Rule(
        id=rule_id,
        title=title,
        format="elastic",
        logic=logic,
        path=path,
        description=str(spec.get("description") or ""),
        severity=severity,  # type: ignore[arg-type]
        status=_MATURITY_STATUS.get(str(file_metadata.get("maturity", "production")), "stable"),
        tags=tuple(_strings(spec.get("tags"), "tags", position)),
        techniques=techniques,
        tactics=tactics,
        log_types=log_types_for_indices(indices, integrations),
        grouping=grouping,
        output_fields=output_fields,
        references=tuple(_strings(spec.get("references"), "references", position)),
        false_positives=tuple(_strings(spec.get("false_positives"), "false_positives", position)),
        tests=tuple(tests),
        metadata=metadata,
        enabled=bool(spec.get("enabled", True)),
        unsupported=unsupported,
    )


def _required_text(spec: Mapping[str, Any], key: str, position: QueryPosition) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise position.error(f"rule has no {key}")
    return value


def _strings(value: Any, key: str, position: QueryPosition) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise position.error(f"{key} must be a string or a list of strings")


def _seconds_before(value: Any, position: QueryPosition) -> float:
    if value is None:
        return DEFAULT_FROM_SECONDS
    seconds = lookback_seconds(str(value))
    if seconds is None:
        raise position.error(f"from: expected date math such as now-9m, got {value!r}")
    return seconds


def _threat(value: Any, position: QueryPosition) -> tuple[tuple[str, ...], tuple[str, ...], list[dict]]:
    """Tactic ids, technique ids (with sub-techniques) and a tidy copy of the threat list."""
    if value is None:
        return (), (), []
    if not isinstance(value, list):
        raise position.error("threat must be a list of tables")
    tactics: list[str] = []
    techniques: list[str] = []
    tidy: list[dict] = []
    for entry in value:
        if not isinstance(entry, Mapping):
            raise position.error("threat entries must be tables")
        tactic = entry.get("tactic") or {}
        if isinstance(tactic, Mapping) and tactic.get("id"):
            tactics.append(str(tactic["id"]))
        for technique in entry.get("technique") or ():
            if not isinstance(technique, Mapping) or not technique.get("id"):
                raise position.error("threat techniques need an id")
            techniques.append(str(technique["id"]))
            for sub in technique.get("subtechnique") or ():
                if not isinstance(sub, Mapping) or not sub.get("id"):
                    raise position.error("threat subtechniques need an id")
                techniques.append(str(sub["id"]))
        tidy.append({"framework": entry.get("framework", "MITRE ATT&CK"), "tactic": dict(tactic),
                     "technique": [dict(t) for t in entry.get("technique") or ()]})
    return tuple(dict.fromkeys(tactics)), tuple(dict.fromkeys(techniques)), tidy


def _logic(spec: Mapping[str, Any], rule_type: str, position: QueryPosition) -> Logic:
    if rule_type in _UNSUPPORTED_TYPES:
        raise UnsupportedFeature(f"rule type {rule_type}", detail=_UNSUPPORTED_TYPES[rule_type])
    if rule_type not in ("query", "saved_query", "eql", "threshold", "new_terms"):
        raise UnsupportedFeature(f"rule type {rule_type}", detail="unknown to TokenTrail")
    query = spec.get("query")
    if query is None and rule_type == "saved_query":
        raise UnsupportedFeature("saved query without its query text", detail=str(spec.get("saved_id", "")))
    if not isinstance(query, str):
        raise position.error(f"{rule_type} rule has no query")
    language = str(spec.get("language") or ("eql" if rule_type == "eql" else "kuery"))
    if rule_type == "eql" or language == "eql":
        if rule_type != "eql" or language != "eql":
            raise position.error(f"language {language} does not fit rule type {rule_type}")
        return eql_to_logic(query, position=position)
    if language == "lucene":
        raise UnsupportedFeature("Lucene query syntax", detail="rewrite the query in KQL")
    if language != "kuery":
        raise position.error(f"unknown query language {language!r}")
    return kql_to_ir(query, position=position)


def _esql(spec: Mapping[str, Any], lookback: float, position: QueryPosition
          ) -> tuple[Logic, Grouping, tuple[str, ...], tuple[OutputField, ...]]:
    query = spec.get("query")
    if not isinstance(query, str):
        raise position.error("esql rule has no query")
    language = str(spec.get("language") or "esql")
    if language != "esql":
        raise position.error(f"language {language} does not fit rule type esql")
    plan = esql_to_plan(query, lookback=lookback, position=position)
    return plan.expr, plan.grouping, plan.indices, plan.output_fields


def _grouping(spec: Mapping[str, Any], rule_type: str, lookback: float, interval: float,
              position: QueryPosition) -> Grouping:
    suppression = spec.get("alert_suppression")
    if suppression is not None and not isinstance(suppression, Mapping):
        raise position.error("alert_suppression must be a table")
    if rule_type == "threshold":
        return _threshold(spec.get("threshold"), lookback, position)
    group_by: tuple[str, ...] = ()
    window: float | None = None
    if suppression:
        group_by = tuple(_strings(suppression.get("group_by"), "alert_suppression.group_by", position))
        duration = suppression.get("duration")
        window = value_unit_seconds(duration) if duration is not None else interval
        if window is None:
            raise position.error("alert_suppression.duration needs a value and a unit (s, m, h)")
    if rule_type == "new_terms":
        fields, history = _new_terms(spec, position)
        return Grouping(group_by=group_by, window=window, new_terms=fields, history=history)
    return Grouping(group_by=group_by, window=window)


def _threshold(value: Any, lookback: float, position: QueryPosition) -> Grouping:
    if not isinstance(value, Mapping):
        raise position.error("threshold rule has no threshold table")
    fields = tuple(_strings(value.get("field"), "threshold.field", position))
    count = value.get("value")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise position.error("threshold.value must be a whole number of at least 1")
    distinct_field: str | None = None
    distinct_threshold = 1
    cardinality = value.get("cardinality") or []
    if isinstance(cardinality, Mapping):
        cardinality = [cardinality]
    if cardinality:
        first = cardinality[0]
        if len(cardinality) > 1:
            raise UnsupportedFeature("threshold with more than one cardinality field")
        card_value = first.get("value") if isinstance(first, Mapping) else None
        if not isinstance(first, Mapping) or not isinstance(first.get("field"), str) \
                or isinstance(card_value, bool) or not isinstance(card_value, int) or card_value < 1:
            raise position.error("threshold.cardinality needs a field and a whole-number value")
        distinct_field = first["field"]
        distinct_threshold = card_value
    return Grouping(group_by=fields, window=lookback, threshold=count, distinct_field=distinct_field,
                    distinct_threshold=distinct_threshold)


def _new_terms(spec: Mapping[str, Any], position: QueryPosition) -> tuple[tuple[str, ...], float]:
    """New-terms fields and history length, from the TOML table or Kibana's top-level keys."""
    table = spec.get("new_terms")
    if isinstance(table, Mapping):
        fields_value = table.get("value")
        history_value = table.get("history_window_start")
        if isinstance(history_value, list) and history_value and isinstance(history_value[0], Mapping):
            history_value = history_value[0].get("value")
        elif isinstance(history_value, Mapping):
            history_value = history_value.get("value")
    else:
        fields_value = spec.get("new_terms_fields")
        history_value = spec.get("history_window_start")
    fields = tuple(_strings(fields_value, "new_terms fields", position))
    if not 1 <= len(fields) <= 3:
        raise position.error("new_terms needs one to three fields")
    history = lookback_seconds(str(history_value)) if history_value is not None else None
    if history is None:
        raise position.error(f"new_terms history_window_start must be date math such as now-14d, "
                             f"got {history_value!r}")
    return fields, history
