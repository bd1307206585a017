"""The site and the scan report in a real headless Chromium: what a reader sees once the pages'
scripts have run (search from the query string), and screenshots that are not blank."""

from __future__ import annotations

import pytest
from browser import Elements, chromium, dump_dom, screenshot
from test_site_pages import SEED_000, bundled_rule_paths, indicator_rows

from tokentrail.catalog.atomic import atomic_coverage
from tokentrail.catalog.site import build_site
from tokentrail.catalog.site.paths import rule_page
from tokentrail.rules.loader import load_rules

MICROBURST = "Azure - Dump All Azure Key Vaults with Microburst"


@pytest.fixture(autouse=True)
def _browser():
    chromium()  # skips, saying why, where there is none


def visible_rules(html: str) -> list[str]:
    """Titles of the index rows the search left shown."""
    shown = []
    for attrs, text in Elements(html).all("tr"):
        if "data-i" in attrs and "hidden" not in attrs:
            shown.append(text.strip().split("\n")[0].strip())
    return shown


def test_seed_000_page_shows_indicators_with_counts(tmp_path, seed_000_rule):
    rules = load_rules([*bundled_rule_paths(), seed_000_rule])
    built = build_site(tmp_path / "out", rules.rules, verify=False)
    page = built.out / rule_page(SEED_000)
    rendered = dump_dom(page.as_uri())
    rows = indicator_rows(rendered)
    assert rows == indicator_rows(page.read_text(encoding="utf-8"))
    assert set(rows) == {("data.type", "mgmt_api_read"), ("data.description", "Get client by ID"),
                         ("data.details.accessedSecrets{}", "client_secret"),
                         ("data.details.response.body.client_id", "critical-client_id-1"),
                         ("data.details.response.body.client_id", "critical-client_id-etc")}
    assert rows[("data.type", "mgmt_api_read")] >= 1
    title = [text for _, text in Elements(rendered).all("h1")]
    assert title == ["High risk event - risk of copying client credentials"]


def test_t1528_page_shows_the_microburst_test_and_its_state(built):
    rendered = dump_dom((built.site.out / "techniques" / "T1528.html").as_uri())
    tests = {text.split("Test: ", 1)[1].split("\n")[0].strip(): attrs["class"]
             for attrs, text in Elements(rendered).all("article")}
    assert MICROBURST in tests
    result = next(r for r in atomic_coverage([r for r in built.rules if r.runnable]) if r.test.name == MICROBURST)
    assert tests[MICROBURST] == f"atomic atomic-{result.status}"
    assert result.status == "covered", "the bundled Azure Key Vault rule should fire on the Microburst evidence"


def test_search_finds_a_rule_by_event_type(built):
    index = (built.site.out / "index.html").as_uri()
    everything = visible_rules(dump_dom(index))
    assert len(everything) == len(built.rules)
    found = visible_rules(dump_dom(index + "?q=system.api_token.revoke"))
    assert "Okta API Token Revoked" in found and len(found) < len(everything)
    auth0 = visible_rules(dump_dom(index + "?logtype=auth0&severity=high"))
    expected = sorted(r.title for r in built.rules if r.severity == "high" and "auth0" in r.path.rsplit("/", 1)[-1])
    assert sorted(auth0) == expected and expected


@pytest.mark.parametrize("page", ["index.html", f"rules/{'6e94fd3d-76d2-4f8a-a24e-0e8f12c7908f'}.html",
                                  "techniques/T1528.html", "coverage.html",
                                  "briefs/okta-api-token-revocation.html", "report/index.html"])
def test_screenshot_of_each_page_kind_is_not_blank(built, tmp_path, page):
    image = screenshot((built.site.out / page).as_uri(), tmp_path / "shot.png")
    variance, levels = image.spread()
    assert variance > 200 and levels > 20, (page, variance, levels)
    header = image.spread((0, 0, image.width, 40))  # the dark bar on top: the style sheet loaded
    assert image.grey(5, 5) < 80 and header[1] > 2


def test_report_renders_its_chart(built, tmp_path):
    page = built.report_dir / "index.html"
    elements = Elements(dump_dom(page.as_uri()))
    svg = elements.all("svg", id="alerts-chart")
    assert len(svg) == 1
    bars = elements.all("rect", **{"class": "bar"})
    assert bars and all(float(a["height"]) > 0 for a, _ in bars)
    # Each segment's tooltip: "DAY: RULE: N alert(s)"; together they are every alert of the scan.
    labels = [text.rsplit(": ", 1) for _, text in bars]
    assert sum(int(n.split()[0]) for _, n in labels) == built.report.alerts
    titles = {r.title for r in built.report.rules if r.alerts}
    assert all(head.split(": ", 1)[1] in titles or head.endswith("other rule(s)") for head, _ in labels)
    image = screenshot(page.as_uri(), tmp_path / "report.png", size=(1100, 900))
    box = chart_box(image)
    assert box is not None
    variance, levels = image.spread(box, step=1)
    assert levels > 4 and variance > 50


def chart_box(image) -> tuple[int, int, int, int] | None:
    """Where the chart's coloured bars are: rows holding the palette's first colour (the busiest
    rule's bars, #4e79a7)."""
    rows = [y for y in range(image.height) if _has_colour(image, y, (0x4E, 0x79, 0xA7))]
    return (0, rows[0], image.width, rows[-1] + 1) if rows else None


def _has_colour(image, y: int, rgb: tuple[int, int, int]) -> bool:
    row, c = image.rows[y], image.channels
    return any(abs(row[x * c] - rgb[0]) < 8 and abs(row[x * c + 1] - rgb[1]) < 8 and abs(row[x * c + 2] - rgb[2]) < 8
               for x in range(0, image.width, 2))
