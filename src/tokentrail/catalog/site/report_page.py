"""The scan report as a page: alone in the directory ``scan --report`` names (with its data as
``report.json``), or inside the site, where rule names link to the rule pages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentrail.catalog.site.chart import alerts_chart
from tokentrail.catalog.site.paths import rule_anchor
from tokentrail.catalog.site.render import PageWriter, SiteError
from tokentrail.catalog.site.report import REPORT_DATA, ScanReport

SITE_REPORT = "report/index.html"  # where the report lives inside a site


def report_context(report: ScanReport, rule_pages: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What ``report.html`` needs: the report, its chart, and each rule's page (empty alone)."""
    anchors = {r.id: rule_anchor(r.id) for r in report.rules}
    return {"report": report, "chart": alerts_chart(report.rules, report.days, anchors), "anchors": anchors,
            "rule_pages": dict(rule_pages or {}), "noisiest": report.noisiest(), "dead": report.dead()}


def write_report(out: Path, report: ScanReport) -> Path:
    """Write the report page, its data and the static files into ``out``; the page's path."""
    writer = PageWriter(out)
    writer.static()
    writer.page("index.html", "report.html", **report_context(report), site=False)
    try:
        (out / REPORT_DATA).write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=1) + "\n",
                                       encoding="utf-8")
    except OSError as exc:
        raise SiteError(f"cannot write: {exc.strerror or exc}", file=str(out / REPORT_DATA)) from exc
    return out / "index.html"
