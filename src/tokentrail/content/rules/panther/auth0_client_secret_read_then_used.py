"""An Auth0 client secret is read through the Management API or Dashboard, and soon after the
client exchanges credentials for an access token from an IP it has not used before.

The read alone is often an admin at work; the read followed by a token exchange from somewhere
new is what a copied secret looks like. The cache keeps, per client, when its secret was last
read (for a week) and the IPs its client-credentials exchanges came from (for 30 days).
"""

from panther_detection_helpers.caching import (
    add_to_string_set,
    get_dictionary,
    get_string_set,
    put_dictionary,
)
from tokentrail_helpers import auth0_read_client_id, auth0_record, cached, expiry

SECRET_READ_DAYS = 7
KNOWN_IP_DAYS = 30


def _read_key(client_id):
    return f"auth0.secret_read:{client_id}"


def _ips_key(client_id):
    return f"auth0.cc_ips:{client_id}"


def _secret_was_read(record):
    secrets = record.get("details", {}).get("accessedSecrets") or []
    return "client_secret" in secrets


def rule(event):
    record = auth0_record(event)
    log_type = record.get("type")
    if log_type == "mgmt_api_read" and _secret_was_read(record):
        client_id = auth0_read_client_id(record)
        if client_id:
            put_dictionary(
                _read_key(client_id),
                {
                    "reader": record.get("user_id") or record.get("user_name"),
                    "reader_ip": record.get("ip"),
                    "read_at": record.get("date"),
                },
                expiry(event, days=SECRET_READ_DAYS),
            )
        return False
    if log_type != "seccft":
        return False
    client_id = record.get("client_id")
    ip = record.get("ip")
    if not client_id or not ip:
        return False
    known = cached(get_string_set(_ips_key(client_id)))
    add_to_string_set(_ips_key(client_id), ip, expiry(event, days=KNOWN_IP_DAYS))
    return bool(cached(get_dictionary(_read_key(client_id)))) and ip not in known


def title(event):
    record = auth0_record(event)
    return (
        f"Auth0 client [{record.get('client_name') or record.get('client_id')}] got a token from "
        f"new IP [{record.get('ip')}] after its secret was read"
    )


def dedup(event):
    return f"{auth0_record(event).get('client_id')}"


def alert_context(event):
    record = auth0_record(event)
    read = cached(get_dictionary(_read_key(record.get("client_id"))))
    return {
        "client_id": record.get("client_id"),
        "client_name": record.get("client_name"),
        "ip": record.get("ip"),
        "secret_read_by": read.get("reader"),
        "secret_read_from": read.get("reader_ip"),
        "secret_read_at": read.get("read_at"),
        "audience": record.get("audience"),
    }
