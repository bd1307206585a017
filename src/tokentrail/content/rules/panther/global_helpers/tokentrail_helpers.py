"""Helpers shared by TokenTrail's bundled Panther rules (importable as ``tokentrail_helpers``)."""

import json
from collections.abc import Mapping

# Without an event time, cache entries still need an absolute expiry; this is far in the future.
_NO_TIME_EXPIRY = 4102444800  # 2100-01-01


def expiry(event, *, days=0, hours=0):
    """Epoch seconds ``days``/``hours`` after the event happened, for cache TTLs."""
    start = event.event_time_epoch()
    if start is None:
        return _NO_TIME_EXPIRY
    return start + days * 86400 + hours * 3600


def auth0_record(event):
    """The Auth0 log record itself: log-stream deliveries wrap it in ``data``."""
    inner = event.get("data")
    if isinstance(inner, Mapping) and "type" in inner:
        return inner
    return event


def auth0_read_client_id(record):
    """The client whose settings a Management API read returned."""
    details = record.get("details") or {}
    body = (details.get("response") or {}).get("body") or {}
    return body.get("client_id") if isinstance(body, Mapping) else None


def cached(value):
    """A cache read as the rule uses it: a test's mock returns the JSON text written in the
    YAML (pat passes returnValue as a string), the real cache the value itself."""
    return json.loads(value) if isinstance(value, str) else value
