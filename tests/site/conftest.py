"""A site built once per test module: the bundled pack, verified by simulation, with the report of
a scan of simulated logs inside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tokentrail import api, simulate
from tokentrail.catalog.site import SiteBuild, build_site
from tokentrail.catalog.site.report import ReportCollector, ScanReport
from tokentrail.catalog.site.report_page import write_report
from tokentrail.rules.model import Rule


@dataclass(frozen=True)
class Built:
    site: SiteBuild
    rules: tuple[Rule, ...]
    report: ScanReport
    report_dir: Path


def scan_with_report(paths: list[Path], rules) -> ScanReport:
    """Scan ``paths`` with ``rules`` as ``scan --report`` does and return the report."""
    health = ReportCollector()
    on_alert, on_match = health.tee(lambda alert: None, None)
    result = api.scan(paths, rules, on_alert=on_alert, on_match=on_match, workers=1)
    return health.report(result, rules.rules, [str(p) for p in paths])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("site")
    loaded = api.load_rules()
    logs = simulate.write_logs(root / "logs", ["all"], events=4_000, seed=3)
    report = scan_with_report(list(logs.values()), loaded)
    report_dir = root / "report"
    write_report(report_dir, report)
    site = build_site(root / "out", loaded.rules, report=report)
    return Built(site, tuple(loaded.rules), report, report_dir)


@pytest.fixture
def seed_000_rule(tmp_path) -> Path:
    """Seed 000's rule, verbatim (the lines between "Rule body yaml" and "Stages and Predicates")."""
    from seed_docs import seed_text

    lines = seed_text("000").splitlines()
    body = lines[lines.index("Rule body yaml") + 1:lines.index("Stages and Predicates")]
    path = tmp_path / "seed_000.yml"
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path
