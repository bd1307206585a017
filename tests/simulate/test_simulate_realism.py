"""Benign Okta traffic behaves like people and machines do: one or two devices each, one network
a day, a session per device sign-in that lasts, rare travel, and integrations on fixed servers.

These are the properties public behavioural rules key on (sessions per user, operating systems
per device token, countries per user, ...), so each is checked over a whole simulated day.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict

import pytest

from tokentrail.simulate import generate_items
from tokentrail.simulate.world import EGRESS_NETWORKS

# Okta only: the same ~200 people then do all the day's 30k events, the densest case.
EVENTS = 30_000
SEED = 11
SESSION_WINDOW_MS = 35 * 60_000  # the look-back of Elastic's "Multiple Okta Sessions" rule


@pytest.fixture(scope="module")
def okta() -> list[tuple[int, dict]]:
    return [(ms, e) for ms, _, e in generate_items(["benign"], events=EVENTS, seed=SEED, sources=("okta",))]


def _is_person(event: dict) -> bool:
    """A person's own event (not a service app, and not a service account's API-token call)."""
    return event["actor"]["type"] == "User" and not event["transaction"]["detail"]


def _device(event: dict) -> str | None:
    return event["debugContext"]["debugData"].get("dtHash")


def _session(event: dict) -> str | None:
    return event["authenticationContext"]["externalSessionId"]


def _agent(event: dict) -> str:
    return event["client"]["userAgent"]["rawUserAgent"]


def _started(event: dict) -> bool:
    return event["eventType"] == "user.session.start" and event["outcome"]["result"] == "SUCCESS"


def test_people_use_one_or_two_devices_from_one_network(okta):
    devices, agents, ips = defaultdict(set), defaultdict(set), defaultdict(set)
    for _, event in okta:
        if _is_person(event):
            person = event["actor"]["id"]
            devices[person].add(_device(event))
            agents[person].add(_agent(event))
            ips[person].add(event["client"]["ipAddress"])
    assert len(devices) >= 150
    assert None not in set().union(*devices.values()), "a person's browser event without a device token"
    per_person = Counter(len(d) for d in devices.values())
    assert set(per_person) <= {1, 2}, per_person
    # Most people sign in from one device; a good share also from a phone.
    assert 0.5 < per_person[1] / len(devices) < 0.8, per_person
    assert all(len(a) <= 2 for a in agents.values())
    assert all(len(i) == 1 for i in ips.values())


def test_a_device_keeps_its_browser_address_and_owner(okta):
    seen: dict[str, set] = defaultdict(set)
    for _, event in okta:
        if _is_person(event):
            seen[_device(event)].add(
                (
                    event["actor"]["id"],
                    event["client"]["ipAddress"],
                    _agent(event),
                    event["client"]["userAgent"]["os"],
                )
            )
    assert seen
    assert all(len(v) == 1 for v in seen.values()), [v for v in seen.values() if len(v) > 1][:3]


def test_a_session_belongs_to_one_device_and_is_used_only_while_open(okta):
    seen: dict[str, set] = defaultdict(set)
    started: dict[str, int] = {}
    used_before_start, used_after_end = [], []
    ended: set[str] = set()
    current: dict[str | None, str] = {}  # the latest session each device signed into
    ended_late = []
    uses = Counter()
    for ms, event in okta:
        session = _session(event)
        if session is None:
            continue
        if session in ended:
            used_after_end.append(event["eventType"])
        if event["eventType"] == "user.session.end":
            ended.add(session)
            if current.get(_device(event)) != session:
                ended_late.append(session)  # signed out after the device had signed in again
        seen[session].add((event["actor"]["id"], event["client"]["ipAddress"], _agent(event), _device(event)))
        if _started(event):
            assert session not in started, f"session {session} started twice"
            started[session] = ms
            current[_device(event)] = session
        elif event["eventType"] not in ("policy.evaluate_sign_on", "user.authentication.auth_via_mfa"):
            uses[session] += 1
            if session not in started:
                used_before_start.append(event["eventType"])
    assert all(len(v) == 1 for v in seen.values()), [v for v in seen.values() if len(v) > 1][:3]
    assert set(started) == set(seen)
    assert not used_before_start
    assert ended and not used_after_end and not ended_late
    # A sign-in serves many app uses: sessions are kept, not opened per click.
    assert sum(uses.values()) / len(started) > 10


def test_no_one_starts_three_sessions_within_35_minutes(okta):
    starts = defaultdict(list)
    for ms, event in okta:
        if _started(event) and _is_person(event):
            starts[event["actor"]["id"]].append(ms)
    assert starts
    crowded = {
        person: times
        for person, times in starts.items()
        if any(later - first <= SESSION_WINDOW_MS for first, later in zip(times, times[2:], strict=False))
    }
    assert not crowded
    # Sign-ins still happen more than once a day for many people (idle timeouts, sign-outs).
    assert sum(len(t) for t in starts.values()) > 1.5 * len(starts)


def test_a_person_is_in_one_country_all_day_and_few_travel(okta):
    countries = defaultdict(set)
    new_behaviour = set()
    people = set()
    for _, event in okta:
        if not _is_person(event):
            continue
        people.add(event["actor"]["id"])
        if event["outcome"]["result"] == "SUCCESS":
            countries[event["actor"]["id"]].add(event["client"]["geographicalContext"]["country"])
        if "POSITIVE" in event["debugContext"]["debugData"].get("behaviors", ""):
            new_behaviour.add(event["actor"]["id"])
    assert all(len(c) == 1 for c in countries.values())
    assert 0 < len(new_behaviour) <= 0.08 * len(people)


def test_offices_share_an_address_and_homes_do_not(okta):
    people_per_ip = defaultdict(set)
    for _, event in okta:
        if _is_person(event):
            people_per_ip[event["client"]["ipAddress"]].add(event["actor"]["id"])
    sizes = sorted((len(p) for p in people_per_ip.values()), reverse=True)
    assert sizes[0] >= 10  # an office
    assert sizes.count(1) > len(sizes) / 2  # most addresses are one person's home


def test_machine_identities_call_from_one_fixed_egress_address(okta):
    networks = [ipaddress.ip_network(n) for n in EGRESS_NETWORKS]
    ips = defaultdict(set)
    for _, event in okta:
        if not _is_person(event) and event["actor"]["type"] in ("User", "PublicClientApp"):
            ips[event["actor"]["id"]].add(event["client"]["ipAddress"])
            assert _session(event) is None and _device(event) is None
    kinds = Counter("token" if actor.startswith("00u") else "app" for actor in ips)
    assert kinds["token"] >= 1 and kinds["app"] >= 1, kinds
    for actor, addresses in ips.items():
        assert len(addresses) == 1, actor
        (ip,) = addresses
        assert any(ipaddress.ip_address(ip) in net for net in networks), ip


def test_salesforce_sessions_belong_to_one_device_and_are_reused():
    items = generate_items(["benign"], events=EVENTS // 2, seed=SEED, sources=("salesforce",))
    seen: dict[str, set] = defaultdict(set)
    logins, uses = Counter(), Counter()
    for _, _, record in items:
        key = record.get("SESSION_KEY")
        if not key or record["USER_NAME"].startswith("integration."):
            continue
        seen[key].add((record["USER_ID"], record["SOURCE_IP"]))
        if record["EVENT_TYPE"] == "Login":
            logins[key] += 1
        else:
            uses[key] += 1
    assert seen
    assert all(len(v) == 1 for v in seen.values())
    assert set(logins.values()) == {1} and set(logins) == set(seen)
    assert sum(uses.values()) / len(logins) > 10
