"""Log types: what TokenTrail knows about each form of Okta, Auth0 and Salesforce logs.

Facts live in ``schemas/data/*.yml`` (and ``data/ecs/<vendor>.yml`` for ECS forms); this package
interprets them: recognise an event's log type, read its time and id, route rules to log types and
rename rule fields for each log type.
"""

from __future__ import annotations

from tokentrail.schemas.access import event_id, event_time, id_reader, time_reader, value_at
from tokentrail.schemas.casefold import fold_keys
from tokentrail.schemas.detect import detect_log_type, detector, forced_detector, recognise
from tokentrail.schemas.fields import FieldMap, dialect_of, field_for, field_map
from tokentrail.schemas.lookup import (
    UnknownLogType,
    all_log_types,
    get_log_type,
    is_generic,
    log_type_info,
    resolve_log_type_name,
)
from tokentrail.schemas.model import LogType
from tokentrail.schemas.registry import registry
from tokentrail.schemas.reshape import Recognised
from tokentrail.schemas.routing import log_types_for, log_types_for_names
from tokentrail.schemas.specialize import ecs_constants, fold_constants, specialize
from tokentrail.schemas.standard import with_panther_fields
from tokentrail.schemas.timeparse import parse_time

__all__ = [
    "fold_keys",
    "forced_detector",
    "is_generic",
    "log_type_info",
    "recognise",
    "resolve_log_type_name",
    "with_panther_fields",
    "FieldMap",
    "LogType",
    "Recognised",
    "UnknownLogType",
    "all_log_types",
    "detect_log_type",
    "detector",
    "dialect_of",
    "ecs_constants",
    "event_id",
    "event_time",
    "field_for",
    "field_map",
    "fold_constants",
    "get_log_type",
    "id_reader",
    "log_types_for",
    "log_types_for_names",
    "parse_time",
    "registry",
    "specialize",
    "time_reader",
    "value_at",
]
