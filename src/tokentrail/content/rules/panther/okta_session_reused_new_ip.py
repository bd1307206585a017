"""One Okta session seen from a second IP address and a second browser.

Okta stamps each event of a browser session with ``debugContext.debugData.dtHash``. The first
event of a session records where it came from; a later event of the same session from both a
different IP and a different user agent means the session cookie was replayed elsewhere
(a changed IP alone is common on mobile networks and is not flagged).
"""

from panther_detection_helpers.caching import get_dictionary, put_dictionary
from tokentrail_helpers import cached, expiry

SESSION_HOURS = 12  # Okta's longest default session lifetime


def _key(event):
    return f"okta.session:{event.deep_get('debugContext', 'debugData', 'dtHash')}"


def rule(event):
    dt_hash = event.deep_get("debugContext", "debugData", "dtHash")
    if not dt_hash or dt_hash == "-" or event.deep_get("actor", "type") != "User":
        return False
    ip = event.udm("source_ip")
    agent = event.udm("user_agent")
    first = cached(get_dictionary(_key(event)))
    if not first:
        put_dictionary(
            _key(event),
            {"ip": ip, "user_agent": agent, "user": event.udm("actor_user")},
            expiry(event, hours=SESSION_HOURS),
        )
        return False
    return first.get("ip") != ip and first.get("user_agent") != agent


def title(event):
    return (
        f"Okta session of [{event.udm('actor_user')}] reused from [{event.udm('source_ip')}] "
        "with another browser"
    )


def dedup(event):
    return _key(event)


def alert_context(event):
    first = cached(get_dictionary(_key(event)))
    return {
        "user": event.udm("actor_user"),
        "session_hash": event.deep_get("debugContext", "debugData", "dtHash"),
        "first_ip": first.get("ip"),
        "first_user_agent": first.get("user_agent"),
        "source_ip": event.udm("source_ip"),
        "user_agent": event.udm("user_agent"),
        "event_type": event.get("eventType"),
    }
