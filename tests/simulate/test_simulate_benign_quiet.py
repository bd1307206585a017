"""Benign simulated traffic raises no alert from the bundled rules (Sigma, Elastic and Panther),
while the attack scenarios in the same day's traffic do; and, where public Okta rule sets are at
hand, only the public rules that fire on ordinary admin work by design alert on benign traffic."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

import tokentrail
from tokentrail import load_rules, scan
from tokentrail.simulate import SCENARIOS, write_logs

PACK = Path(tokentrail.__file__).parent / "content" / "rules"
EVENTS = 30_000
SEED = 5

# Public rules whose logic alerts on ordinary administration, whatever the traffic: every new
# user (docs/public-rules-on-benign.md says why each is expected).
PUBLIC_RULES_FIRING_BY_DESIGN = {"New Okta User Created"}


@pytest.fixture(scope="module")
def pack():
    loaded = load_rules([PACK])
    assert not loaded.errors, [str(e) for e in loaded.errors]
    assert {r.format for r in loaded.runnable} == {"sigma", "elastic", "panther"}
    return loaded


def _alerts(tmp_path: Path, scenarios: list[str], rules) -> tuple[Counter, int]:
    logs = tmp_path / scenarios[0]
    write_logs(logs, scenarios, EVENTS, SEED)
    result = scan([logs], rules)
    assert not result.rule_errors, result.rule_errors[:3]
    return Counter(a.rule_id for a in result.alerts), result.stats.matched_events


def test_benign_day_raises_no_alert_from_the_whole_bundled_pack(pack, tmp_path):
    fired, matched = _alerts(tmp_path, ["benign"], pack)
    titles = {r.id: r.title for r in pack.rules}
    assert not fired, {titles[r]: n for r, n in fired.items()}
    assert matched > 1_000  # the rules did look at the traffic: their filters matched events


def test_the_same_day_with_attacks_fires_every_scenario_rule(pack, tmp_path):
    fired, _ = _alerts(tmp_path, ["all"], pack)
    expected = {s.rule_id for s in SCENARIOS.values()}
    assert expected <= set(fired), sorted(expected - set(fired))


def _public_rule_dirs() -> list[Path]:
    """Rule directories named in TOKENTRAIL_PUBLIC_RULES (separated like PATH)."""
    named = os.environ.get("TOKENTRAIL_PUBLIC_RULES", "")
    return [Path(p) for p in named.split(os.pathsep) if p]


def test_public_okta_rules_quiet_on_benign_day(tmp_path):
    dirs = _public_rule_dirs()
    if not dirs:
        pytest.skip(
            "set TOKENTRAIL_PUBLIC_RULES to SigmaHQ's and Elastic's Okta rule folders to run this "
            "(they are not part of the repository)"
        )
    missing = [d for d in dirs if not d.exists()]
    assert not missing, missing
    loaded = load_rules(dirs)
    assert loaded.runnable, dirs
    fired, _ = _alerts(tmp_path, ["benign"], loaded.runnable)
    titles = {r.id: r.title for r in loaded.rules}
    unexpected = {titles[r]: n for r, n in fired.items() if titles[r] not in PUBLIC_RULES_FIRING_BY_DESIGN}
    assert not unexpected
