"""An Okta API token authenticates a request from an IP its creator has never used.

State kept in the cache: each user's recent sign-in IPs (from successful session starts and
from the token creation itself) and, per API token, who created it. A request made with the
token (Okta names the token in ``transaction.detail.requestApiTokenId``) from an IP outside the
creator's set suggests the token was copied and is used elsewhere.
"""

from panther_detection_helpers.caching import (
    add_to_string_set,
    get_dictionary,
    get_string_set,
    put_dictionary,
)
from tokentrail_helpers import cached, expiry

USUAL_IP_DAYS = 30
TOKEN_RECORD_DAYS = 365
PRIVILEGE_EVENTS = {
    "user.account.privilege.grant",
    "group.privilege.grant",
    "system.api_token.create",
    "application.user_membership.add",
    "group.user_membership.add",
}


def _ips_key(user_id):
    return f"okta.user_ips:{user_id}"


def _token_key(token_id):
    return f"okta.api_token:{token_id}"


def _learn_ip(event, user_id):
    ip = event.udm("source_ip")
    if user_id and ip:
        add_to_string_set(_ips_key(user_id), ip, expiry(event, days=USUAL_IP_DAYS))


def _token(event):
    token_id = event.udm("api_token_id")
    return token_id, (cached(get_dictionary(_token_key(token_id))) if token_id else {})


def rule(event):
    event_type = event.get("eventType")
    actor_id = event.udm("actor_id")
    if event_type == "user.session.start":
        if event.deep_get("outcome", "result") == "SUCCESS":
            _learn_ip(event, actor_id)
        return False
    if event_type == "system.api_token.create":
        _learn_ip(event, actor_id)
        for target in event.get("target") or []:
            if target.get("type") == "Token" and target.get("id"):
                put_dictionary(
                    _token_key(target.get("id")),
                    {
                        "owner_id": actor_id,
                        "owner": event.udm("actor_user"),
                        "name": target.get("displayName"),
                    },
                    expiry(event, days=TOKEN_RECORD_DAYS),
                )
        return False
    token_id, token = _token(event)
    if not token.get("owner_id"):
        return False  # a token created before we started watching: no baseline to judge by
    usual = cached(get_string_set(_ips_key(token["owner_id"])))
    return bool(usual) and event.udm("source_ip") not in usual


def title(event):
    _, token = _token(event)
    return (
        f"Okta API token [{token.get('name', 'unnamed')}] of [{token.get('owner', 'unknown')}] "
        f"used from unfamiliar IP [{event.udm('source_ip')}]"
    )


def severity(event):
    return "CRITICAL" if event.get("eventType") in PRIVILEGE_EVENTS else "DEFAULT"


def dedup(event):
    return f"{event.udm('api_token_id')}:{event.udm('source_ip')}"


def alert_context(event):
    token_id, token = _token(event)
    return {
        "api_token_id": token_id,
        "api_token_name": token.get("name"),
        "token_owner": token.get("owner"),
        "source_ip": event.udm("source_ip"),
        "usual_ips": sorted(cached(get_string_set(_ips_key(token.get("owner_id"))))),
        "event_type": event.get("eventType"),
        "user_agent": event.udm("user_agent"),
    }
