"""What an attack scenario works with: the organisation, the event builders and attacker infrastructure."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tokentrail.simulate.auth0 import Auth0Log
from tokentrail.simulate.azure import AzureLog
from tokentrail.simulate.ids import Ids
from tokentrail.simulate.okta import OktaLog
from tokentrail.simulate.org import Org, Where
from tokentrail.simulate.salesforce import SalesforceLog
from tokentrail.simulate.world import ATTACKER_AGENTS, ATTACKER_PLACES, BROWSERS

Item = tuple[int, str, dict[str, Any]]


@dataclass(frozen=True)
class Kit:
    """The shared state of one simulation run."""

    org: Org
    rng: random.Random
    ids: Ids
    okta: OktaLog
    auth0: Auth0Log
    salesforce: SalesforceLog
    azure: AzureLog

    def attacker(self) -> Where:
        """A fresh attacker address in a hosting network no benign user comes from."""
        place = self.rng.choice(ATTACKER_PLACES)
        return Where(self.ids.ip(self.rng.choice(place.prefixes)), place, BROWSERS[0])

    def tool(self) -> str:
        """The user agent of a scripted HTTP client."""
        return self.rng.choice(ATTACKER_AGENTS)


@dataclass(frozen=True, slots=True)
class Scenario:
    """An attack the simulator can mix into benign traffic, and the bundled rule that must catch it.

    ``techniques`` are the ATT&CK ids the scenario enacts (what coverage verification runs it for).
    """

    name: str
    description: str
    source: str
    rule_id: str
    build: Callable[[Kit, int], Iterator[Item]]
    techniques: tuple[str, ...] = ()
