"""The scan report: what ReportCollector counts from a scan, its JSON round trip, the chart's
geometry, and ``tokentrail scan --report`` / ``site build --report`` on the command line."""

from __future__ import annotations

import json
import re

from browser import Elements
from conftest import scan_with_report
from typer.testing import CliRunner

from tokentrail.catalog.site.chart import alerts_chart
from tokentrail.catalog.site.paths import rule_anchor
from tokentrail.catalog.site.report import RuleHealth, report_from_json
from tokentrail.cli import app
from tokentrail.rules.loader import load_rules

RULES = """title: Okta API token created
id: tt-test-token-created
logsource:
    product: okta
detection:
    selection:
        eventType: system.api_token.create
    condition: selection
level: high
---
title: Okta user impersonation
id: tt-test-never-matches
logsource:
    product: okta
detection:
    selection:
        eventType: user.session.impersonation.initiate
    condition: selection
level: medium
"""


def okta(n: int, day: int, user: str, ip: str, event_type: str = "system.api_token.create") -> dict:
    return {"uuid": f"u-{n}", "published": f"2024-05-0{day}T10:00:{n:02d}.000Z", "eventType": event_type,
            "actor": {"id": f"id-{user}", "alternateId": user}, "client": {"ipAddress": ip}}


def write_logs(tmp_path):
    events = [okta(1, 1, "ann@example.com", "198.51.100.1"), okta(2, 1, "ann@example.com", "198.51.100.2"),
              okta(3, 2, "bob@example.com", "198.51.100.1"), okta(4, 2, "ann@example.com", "198.51.100.1",
                                                                  "user.session.start")]
    lines = [json.dumps(e) for e in events] + ['{"no": "known log type"}', "{not json"]
    logs = tmp_path / "okta.jsonl"
    logs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES, encoding="utf-8")
    return logs, rules


def test_report_counts_alerts_per_day_actors_ips_dead_rules_and_unknown_events(tmp_path):
    logs, rules_file = write_logs(tmp_path)
    report = scan_with_report([logs], load_rules([rules_file]))
    created = report.rule("tt-test-token-created")
    assert created.alerts == 3 and created.matches == 3
    assert created.per_day == (("2024-05-01", 2), ("2024-05-02", 1))
    assert created.actors == (("ann@example.com", 2), ("bob@example.com", 1))
    assert created.ips == (("198.51.100.1", 2), ("198.51.100.2", 1))
    assert [r.id for r in report.dead()] == ["tt-test-never-matches"]
    assert [r.id for r in report.noisiest()] == ["tt-test-token-created"]
    assert report.events == 5 and report.skipped_lines == 1  # the event of no known log type counts and len(report.read_errors) == 1
    assert report.unknown == ((str(logs), 1, 5),)
    assert [(lt.log_type, lt.matches) for lt in report.log_types] == [("okta", 3)]
    assert report.days == ("2024-05-01", "2024-05-02")
    assert report_from_json(json.loads(json.dumps(report.to_json()))) == report


def test_chart_stacks_each_day_in_proportion():
    def rule(i, per_day):
        return RuleHealth(f"r{i}", f"rule {i}", "low", "sigma", sum(n for _, n in per_day), 1, per_day, (), ())

    rules = [rule(i, (("d1", i + 1), ("d2", 1))) for i in range(10)]  # 10 rules: 8 colours + one "others"
    chart = alerts_chart(rules, ["d1", "d2"], {r.id: rule_anchor(r.id) for r in rules})
    assert len(chart.legend) == 9 and chart.legend[-1][1] == "2 other rule(s)"
    per_day = {}
    for bar in chart.bars:
        per_day.setdefault(bar.x, []).append(bar)
    heights = [sum(b.height for b in bars) for _, bars in sorted(per_day.items())]
    assert abs(heights[0] / heights[1] - 55 / 10) < 0.01  # d1 holds 1+2+...+10 alerts, d2 ten
    for bars in per_day.values():  # stacked: each segment starts where the one below it ends
        for low, high in zip(bars, bars[1:], strict=False):
            assert abs(high.y + high.height - low.y) < 0.02


def test_cli_scan_report_then_site_build_link_each_other(tmp_path):
    logs, rules_file = write_logs(tmp_path)
    runner = CliRunner()
    report_dir = tmp_path / "report"
    scanned = runner.invoke(app, ["scan", str(logs), "-r", str(rules_file), "--report", str(report_dir),
                                  "-f", "json", "-o", str(tmp_path / "alerts.json")])
    assert scanned.exit_code == 1, scanned.output  # one malformed line
    assert f"report written to {report_dir / 'index.html'}" in scanned.stderr
    page = (report_dir / "index.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<rect class="bar"', page)) == 2 and "tt-test-token-created" not in re.sub(
        r"<[^>]+>", "", page)  # titles shown, not ids
    assert (report_dir / "static" / "site.css").is_file()
    site = tmp_path / "site"
    built = runner.invoke(app, ["site", "build", str(site), "-r", str(rules_file), "--report", str(report_dir),
                                "--no-verify", "--format", "json"])
    assert built.exit_code == 0, built.output
    summary = json.loads(built.stdout)
    assert summary["report"] == str(site / "report" / "index.html") and summary["rules"] == 2
    rule_html = (site / "rules" / "tt-test-token-created.html").read_text(encoding="utf-8")
    assert 'href="../report/index.html#rule-tt-test-token-created"' in rule_html
    inside = Elements((site / "report" / "index.html").read_text(encoding="utf-8"))
    links = {attrs["href"] for attrs, _ in inside.all("a")}
    assert "../rules/tt-test-token-created.html" in links and "../rules/tt-test-never-matches.html" in links


def test_site_build_with_a_missing_report_fails_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["site", "build", str(tmp_path / "site"), "--report", str(tmp_path / "none"),
                                      "--no-verify"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'none' / 'report.json'}: cannot read: No such file or directory"]
