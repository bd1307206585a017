"""Salesforce OAuth credential abuse (TokenTrail's implementation of the seed rule's logic).

Fires on Real-Time Event Monitoring events about OAuth tokens and connected-app API use: the
four named event types, or any event type mentioning OAuth. The alert's severity says which
kind of abuse it looks like: a revocation (often the response to a known compromise) or a
burst of API calls is high; a failed token operation (replay or guessing) is medium.
"""

OAUTH_EVENT_TYPES = {"OAuthTokenRevoked", "OAuthTokenRefreshFailed", "ApiTotalUsage", "ApiConnectedApp"}
FAILED_STATUSES = {"failed", "failure", "error", "denied"}
# Calls per reporting period above which one connected app's usage counts as automated abuse.
EXCESSIVE_API_CALLS = 10000


def rule(event):
    event_type = event.get("EVENT_TYPE") or ""
    return event_type in OAUTH_EVENT_TYPES or "oauth" in event_type.lower()


def _api_calls(event):
    try:
        return int(event.get("API_TOTAL_COUNT") or 0)
    except (TypeError, ValueError):
        return 0


def _is_revocation(event):
    return "revoke" in (event.get("EVENT_TYPE") or "").lower()


def _is_failure(event):
    status = (event.get("STATUS") or "").lower()
    return status in FAILED_STATUSES or "fail" in (event.get("EVENT_TYPE") or "").lower()


def _app(event):
    return (
        event.get("CONNECTED_APP_NAME")
        or event.get("CLIENT_NAME")
        or event.get("CONNECTED_APP_ID")
        or "unknown app"
    )


def _user(event):
    return event.get("USER_NAME") or event.get("USER_ID") or "unknown user"


def title(event):
    if _is_revocation(event):
        what = "token revoked"
    elif _is_failure(event):
        what = "token operation failed"
    elif _api_calls(event) > EXCESSIVE_API_CALLS:
        what = f"excessive API usage ({_api_calls(event)} calls)"
    else:
        what = event.get("EVENT_TYPE")
    return f"Salesforce OAuth {what}: [{_app(event)}] used by [{_user(event)}]"


def severity(event):
    if _is_revocation(event) or _api_calls(event) > EXCESSIVE_API_CALLS:
        return "HIGH"
    if _is_failure(event):
        return "MEDIUM"
    return "DEFAULT"


def dedup(event):
    app = event.get("CONNECTED_APP_ID") or event.get("CLIENT_ID") or "no-app"
    user = event.get("USER_ID") or event.get("USER_NAME") or "no-user"
    return f"{app}:{user}"


def alert_context(event):
    return {
        "EVENT_TYPE": event.get("EVENT_TYPE"),
        "USER_ID": event.get("USER_ID"),
        "USER_NAME": event.get("USER_NAME"),
        "CONNECTED_APP_ID": event.get("CONNECTED_APP_ID"),
        "CONNECTED_APP_NAME": event.get("CONNECTED_APP_NAME"),
        "CLIENT_ID": event.get("CLIENT_ID"),
        "CLIENT_NAME": event.get("CLIENT_NAME"),
        "SOURCE_IP": event.get("SOURCE_IP"),
        "STATUS": event.get("STATUS"),
        "API_TOTAL_COUNT": event.get("API_TOTAL_COUNT"),
        "REQUEST_ID": event.get("REQUEST_ID"),
        "ORGANIZATION_ID": event.get("ORGANIZATION_ID"),
        "SESSION_KEY": event.get("SESSION_KEY"),
    }
