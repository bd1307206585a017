"""A synthetic Sigma rule pack for benchmarks: realistic Okta rule shapes, generated from a seed.

Most rules pin ``eventType`` (as real Okta rules do), some add field conditions with contains,
startswith, lists, CIDR, regex or ``1 of``; a few have no event-type anchor at all.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path

# Most published Okta rules watch admin and security events; a few watch the high-volume
# sign-in and token events. The pack keeps that mix (about 85% / 15%).
ADMIN_EVENT_TYPES = [
    "user.mfa.factor.deactivate", "user.mfa.factor.reset_all", "user.account.update_profile",
    "user.account.lock", "user.account.reset_password", "user.account.privilege.grant",
    "app.oauth2.as.consent.grant", "app.oauth2.as.consent.revoke", "policy.lifecycle.update",
    "policy.lifecycle.delete", "policy.rule.update", "group.user_membership.add",
    "application.user_membership.add", "application.lifecycle.update", "application.lifecycle.create",
    "system.api_token.create", "system.api_token.revoke", "security.threat.detected", "zone.update",
    "app.generic.unauth_app_access_attempt", "user.session.impersonation.initiate",
    "app.oauth2.as.token.detect_reuse", "system.idp.lifecycle.create", "network_zone.rule.disabled",
]
HIGH_VOLUME_EVENT_TYPES = [
    "user.session.start", "user.authentication.sso", "user.authentication.auth_via_mfa",
    "app.oauth2.as.token.grant.access_token", "app.oauth2.as.token.grant.refresh_token",
    "policy.evaluate_sign_on",
]
EVENT_TYPES = ADMIN_EVENT_TYPES + HIGH_VOLUME_EVENT_TYPES
# Conditions pick values that are rare in benign traffic, as a tuned rule's would be.
COUNTRIES = ["Nigeria", "Russia", "China", "North Korea", "Iran", "Belarus", "Vietnam", "Romania"]


def _selection(rng: random.Random) -> dict:
    kind = rng.randrange(7)
    if kind == 0:
        return {"outcome.result": rng.choice(["FAILURE", "DENY"])}
    if kind == 1:
        return {"actor.alternateId|endswith": [f"@{rng.choice(['contractor.io', 'gmail.com', 'proton.me'])}"]}
    if kind == 2:
        return {"client.geographicalContext.country": rng.sample(COUNTRIES, 2)}
    if kind == 3:
        return {"client.ipAddress|cidr": [f"{rng.randrange(1, 223)}.{rng.randrange(256)}.0.0/16"]}
    if kind == 4:
        return {"client.userAgent.rawUserAgent|contains": [rng.choice(["python-requests", "curl/", "Go-http-client"])]}
    if kind == 5:
        return {"target.type": rng.choice(["Token", "Zone", "Group"])}
    return {"debugContext.debugData.requestUri|re": rng.choice([r"^/api/v1/(users|apps)/\w+", r"/oauth2/v1/token$"])}


def make_rule(rng: random.Random, i: int) -> dict:
    """One rule: an event-type selection plus 1-2 field selections (4% have no event type)."""
    detection: dict = {}
    anchored = rng.random() > 0.04
    if anchored:
        pool = HIGH_VOLUME_EVENT_TYPES if rng.random() < 0.15 else ADMIN_EVENT_TYPES
        types = rng.sample(pool, rng.choice([1, 1, 1, 2, 3]))
        detection["sel_type"] = {"eventType": types if len(types) > 1 else types[0]}
    # Like real rules, an event-type pin is narrowed by at least one more condition.
    extra = [_selection(rng) for _ in range(rng.choice([1, 1, 2]) if anchored else 1)]
    for j, sel in enumerate(extra):
        detection[f"cond_{j}"] = sel
    pin = "sel_type and " if anchored else ""
    if len(extra) == 2:
        condition = pin + rng.choice(["1 of cond_*", "cond_0 and not cond_1", "all of cond_*"])
    else:
        condition = pin + "cond_0"
    detection["condition"] = condition
    return {
        "title": f"Synthetic Okta rule {i}",
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "status": "test",
        "logsource": {"product": "okta", "service": "okta"},
        "detection": detection,
        "level": rng.choice(["low", "medium", "high"]),
        "tags": ["attack.t1528"],
    }


def write_pack(out_dir: Path, count: int = 200, seed: int = 1) -> Path:
    """Write ``count`` rules as YAML files under ``out_dir``; returns the directory."""
    import yaml

    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (out_dir / f"synthetic_{i:03d}.yml").write_text(yaml.safe_dump(make_rule(rng, i), sort_keys=False))
    return out_dir
