"""One Salesforce session key used from two source IPs.

Real-Time Event Monitoring events carry the session's ``SESSION_KEY``. The first event of a
session records its IP and user; a later event with the same key from another IP means the
session id (an access token) is being replayed from elsewhere.
"""

from panther_detection_helpers.caching import get_dictionary, put_dictionary
from tokentrail_helpers import cached, expiry

SESSION_HOURS = 24
INTERNAL_SOURCES = {"Salesforce.com IP", "Internal", ""}


def _key(event):
    return f"salesforce.session:{event.get('SESSION_KEY')}"


def rule(event):
    if not event.get("SESSION_KEY"):
        # No key, no session to follow: keyless events must not all share one cache entry.
        return False
    ip = event.get("SOURCE_IP") or ""
    if ip in INTERNAL_SOURCES:
        return False
    first = cached(get_dictionary(_key(event)))
    if not first:
        put_dictionary(
            _key(event),
            {
                "ip": ip,
                "user": event.get("USER_NAME") or event.get("USER_ID"),
                "event_type": event.get("EVENT_TYPE"),
            },
            expiry(event, hours=SESSION_HOURS),
        )
        return False
    return first.get("ip") != ip


def title(event):
    return (
        f"Salesforce session of [{event.get('USER_NAME') or event.get('USER_ID')}] replayed "
        f"from [{event.get('SOURCE_IP')}]"
    )


def severity(event):
    # API calls with a stolen session id are how data leaves; UI events are less conclusive.
    return "CRITICAL" if str(event.get("EVENT_TYPE", "")).startswith("Api") else "DEFAULT"


def dedup(event):
    return _key(event)


def alert_context(event):
    first = cached(get_dictionary(_key(event)))
    return {
        "USER_NAME": event.get("USER_NAME"),
        "USER_ID": event.get("USER_ID"),
        "SESSION_KEY": event.get("SESSION_KEY"),
        "SOURCE_IP": event.get("SOURCE_IP"),
        "first_ip": first.get("ip"),
        "first_event_type": first.get("event_type"),
        "EVENT_TYPE": event.get("EVENT_TYPE"),
    }
