"""The events an imitation serves (read from log files in any format the readers take, or made
by the simulator, in the imitated vendor's API form) and the app that serves them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from tokentrail.errors import ConfigError
from tokentrail.sources.files import LogReader, ReadStats
from tokentrail.sources.imitate.assertions import SignedApp
from tokentrail.sources.imitate.auth0 import api_form, auth0_app
from tokentrail.sources.imitate.faults import FaultPlan
from tokentrail.sources.imitate.okta import okta_app
from tokentrail.sources.imitate.salesforce import salesforce_app

VENDORS = ("okta", "auth0", "salesforce")


def read_events(vendor: str, paths: Sequence[str | Path]) -> tuple[Iterator[dict[str, Any]], ReadStats]:
    """Every event in ``paths`` in ``vendor``'s API form, as they are read (so a big file is
    never held as objects), and the read's counts and errors, complete once they are all read."""
    reader = LogReader()
    shape = api_form if vendor == "auth0" else _same
    return (shape(event) for event, _source, _line in reader.records(paths)), reader.stats


def simulated_events(vendor: str, events: int, seed: int) -> Iterator[dict[str, Any]]:
    """About ``events`` simulated events of ``vendor`` with every attack scenario mixed in."""
    from tokentrail.simulate import generate_items

    shape = api_form if vendor == "auth0" else _same
    for _ms, _source, event in generate_items(["all"], events=events, seed=seed, sources=(vendor,)):
        yield shape(event)


def _same(event: dict[str, Any]) -> dict[str, Any]:
    return event


def imitation_app(vendor: str, events: Iterable[dict[str, Any]], *, tokens: Sequence[str],
                  client: tuple[str, str] | None = None, faults: FaultPlan = FaultPlan(),
                  rate_limit: int = 1_000_000, signed: SignedApp | None = None) -> Starlette:
    """The imitation of ``vendor``'s log API over ``events``; ``signed`` is an app that may sign in
    with its private key (Okta service app, Salesforce JWT bearer)."""
    if vendor == "okta":
        return okta_app(events, tokens=tokens, faults=faults, rate_limit=rate_limit, service_app=signed)
    if vendor == "auth0":
        return auth0_app(events, tokens=tokens, client=client, faults=faults, rate_limit=rate_limit)
    if vendor == "salesforce":
        return salesforce_app(events, tokens=tokens, client=client, faults=faults, rate_limit=rate_limit,
                              signed_app=signed)
    raise ConfigError(f"no imitation of {vendor!r}; choose from {', '.join(VENDORS)}")
