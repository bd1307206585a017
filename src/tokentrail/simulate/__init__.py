"""Seeded, realistic Okta, Auth0, Salesforce and Azure traffic with attack scenarios mixed in.

``generate`` streams events in time order; ``write_logs`` writes them to per-source files;
``SCENARIOS`` maps each scenario name to the bundled rule that must catch it.
"""

from tokentrail.simulate.kit import Scenario
from tokentrail.simulate.scenarios import ALL, BENIGN, SCENARIOS
from tokentrail.simulate.timeline import SOURCES, generate, generate_items
from tokentrail.simulate.writer import write_logs

__all__ = ["ALL", "BENIGN", "SCENARIOS", "SOURCES", "Scenario", "generate", "generate_items", "write_logs"]
