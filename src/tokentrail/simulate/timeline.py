"""Merge benign processes and attack scenarios into one time-ordered stream of events.

Every process (a user session, an integration's loop, an attack) is a generator of
``(epoch_ms, source, event)`` in its own time order; a heap keyed on the next event time of each
process merges them. A spawner process starts new sessions at Poisson arrival times. Attacks start
when the stream has emitted a set share of the requested events, so they land inside the benign
traffic whatever its rate.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from tokentrail.errors import ConfigError
from tokentrail.simulate import auth0, azure, okta, salesforce
from tokentrail.simulate.auth0 import Auth0Log
from tokentrail.simulate.azure import AzureLog
from tokentrail.simulate.ids import Ids, SimRandom
from tokentrail.simulate.kit import Item, Kit, Scenario
from tokentrail.simulate.okta import OktaLog
from tokentrail.simulate.org import build_org
from tokentrail.simulate.salesforce import SalesforceLog
from tokentrail.simulate.scenarios import ALL, BENIGN, SCENARIOS

SOURCES: tuple[str, ...] = ("okta", "auth0", "salesforce", "azure")
DEFAULT_START = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)

# Share of new sessions per source, and the mean events a session of each source yields (measured),
# used to pace arrivals so a run spans about one working day whatever its size.
_SOURCE_WEIGHTS = {"okta": 0.45, "auth0": 0.35, "salesforce": 0.20, "azure": 0.10}
_EVENTS_PER_SESSION = {"okta": 9.0, "auth0": 4.5, "salesforce": 7.5, "azure": 2.0}
_RUN_MS = 9 * 3_600_000


def resolve(names: Sequence[str], sources: Sequence[str]) -> list[Scenario]:
    """The attack scenarios ``names`` asks for (``all``: every one whose source is enabled)."""
    unknown_sources = [s for s in sources if s not in SOURCES]
    if unknown_sources or not sources:
        raise ConfigError(f"unknown or no sources {list(sources)!r}; choose from {', '.join(SOURCES)}")
    chosen: dict[str, Scenario] = {}
    for name in names:
        if name == BENIGN:
            continue
        if name == ALL:
            chosen.update((s.name, s) for s in SCENARIOS.values() if s.source in sources)
            continue
        scenario = SCENARIOS.get(name)
        if scenario is None:
            known = ", ".join([BENIGN, ALL, *SCENARIOS])
            raise ConfigError(f"unknown scenario {name!r}; known: {known}")
        if scenario.source not in sources:
            raise ConfigError(f"scenario {name!r} needs source {scenario.source!r}, which is not enabled")
        chosen[name] = scenario
    return list(chosen.values())


def generate_items(
    scenarios: Sequence[str],
    *,
    events: int,
    seed: int,
    start: datetime | None = None,
    sources: Sequence[str] = SOURCES,
) -> Iterator[Item]:
    """Like ``generate`` but yields ``(epoch_ms, source, event)`` so callers can split by source."""
    attacks = resolve(scenarios, sources)
    rng = SimRandom(seed)
    ids = Ids(rng)
    org = build_org(rng, ids, employees=max(20, min(50_000, events // 150)))
    kit = Kit(org, rng, ids, OktaLog(org, rng, ids), Auth0Log(org, rng, ids), SalesforceLog(org, rng, ids),
              AzureLog(org, rng, ids))
    t0 = int((start or DEFAULT_START).timestamp() * 1000)
    benign = [_spawner(kit, sources, t0, events), *_integrations(kit, sources, t0)]
    return _merge(kit, benign, attacks, events, t0)


def _merge(
    kit: Kit, benign: list[Iterator[Any]], attacks: list[Scenario], events: int, t0: int
) -> Iterator[Item]:
    rng = kit.rng
    heap: list[tuple[int, int, Item, Iterator[Any], bool]] = []
    seq = itertools.count()

    def push(process: Iterator[Any], is_attack: bool) -> None:
        item = next(process, None)
        if item is not None:
            heapq.heappush(heap, (item[0], next(seq), item, process, is_attack))

    for process in benign:
        push(process, False)
    # Attack k starts once this many events have gone out: spread over 10%..90% of the run.
    starts = [int(events * (0.1 + 0.8 * (k + rng.random()) / len(attacks))) for k in range(len(attacks))]
    next_attack = 0
    emitted = 0
    now = t0
    while heap:
        while next_attack < len(attacks) and emitted >= starts[next_attack]:
            begin = now + rng.randint(1_000, 60_000)
            push(attacks[next_attack].build(kit, begin), True)
            next_attack += 1
        ms, _, item, process, is_attack = heap[0]
        if not is_attack and emitted >= events and next_attack == len(attacks):
            heapq.heappop(heap)  # benign traffic is complete: let its processes run dry
            continue
        # Advance the process that owns the head and re-seat it with one sift (heapreplace).
        following = next(process, None)
        if following is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (following[0], next(seq), following, process, is_attack))
        if item[1] is None:  # the spawner hands over a new session
            push(item[2], False)
            continue
        now = ms
        emitted += 1
        yield item


def _spawner(
    kit: Kit, sources: Sequence[str], ms: int, events: int
) -> Iterator[tuple[int, None, Iterator[Item]]]:
    rng = kit.rng
    names = [s for s in SOURCES if s in sources]
    weights = [_SOURCE_WEIGHTS[s] for s in names]
    total = sum(weights)
    per_session = sum(w / total * _EVENTS_PER_SESSION[s] for s, w in zip(names, weights, strict=True))
    mean_gap = _RUN_MS * per_session / max(events, 1)
    while True:
        ms += int(rng.expovariate(1 / mean_gap)) + 1
        source = rng.choices(names, weights)[0]
        yield ms, None, _session(kit, source, ms)


def _session(kit: Kit, source: str, ms: int) -> Iterator[Item]:
    rng, org = kit.rng, kit.org
    if source == "okta":
        if rng.random() < 0.02:
            return okta.admin_session(kit.okta, rng.choice(org.admins), ms)
        return okta.employee_session(kit.okta, rng.choice(org.people), ms)
    if source == "auth0":
        if rng.random() < 0.01:
            return auth0.dashboard_session(kit.auth0, rng.choice(org.admins), ms)
        return auth0.customer_session(kit.auth0, rng.choice(org.customers), ms)
    if source == "azure":
        if rng.random() < 0.1:
            return azure.admin_session(kit.azure, rng.choice(org.admins), ms)
        return azure.developer_session(kit.azure, rng.choice(org.people), ms)
    if rng.random() < 0.015:
        return salesforce.admin_change(kit.salesforce, rng.choice(org.admins), ms)
    return salesforce.user_session(kit.salesforce, rng.choice(org.sf_people or org.people), ms)


def _integrations(kit: Kit, sources: Sequence[str], t0: int) -> list[Iterator[Item]]:
    """The always-on machine identities of each enabled source, started at staggered times."""
    rng, org = kit.rng, kit.org
    out: list[Iterator[Item]] = []
    if "okta" in sources:
        out += [
            okta.service_app(kit.okta, app, t0 + rng.randint(0, 600_000)) for app in org.okta_service_apps
        ]
        out += [
            okta.service_account(kit.okta, account, t0 + rng.randint(0, 1_800_000))
            for account in org.okta_service_accounts
        ]
    if "auth0" in sources:
        out += [auth0.m2m_client(kit.auth0, app, t0 + rng.randint(0, 600_000)) for app in org.auth0_m2m]
    if "salesforce" in sources:
        out += [
            salesforce.integration(kit.salesforce, app, t0 + rng.randint(0, 120_000))
            for app in org.sf_integrations
        ]
    if "azure" in sources:
        out += [
            azure.app_reader(kit.azure, app, t0 + rng.randint(0, 900_000))
            for app in kit.azure.subscription.apps
        ]
    return out


def generate(
    scenarios: Sequence[str],
    *,
    events: int,
    seed: int,
    start: datetime | None = None,
    sources: Sequence[str] = SOURCES,
) -> Iterator[dict[str, Any]]:
    """Benign traffic of about ``events`` events with the named attack scenarios mixed in, in time order.

    ``scenarios`` holds scenario names, ``"benign"`` (no attacks) or ``"all"``. The same arguments
    always give the same events. Raises ``ConfigError`` at once for an unknown scenario or source.
    """
    items = generate_items(scenarios, events=events, seed=seed, start=start, sources=sources)
    return (event for _, _, event in items)
