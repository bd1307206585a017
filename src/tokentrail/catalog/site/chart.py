"""Alerts per rule per day as an SVG chart: stacked bars, one per day, a colour per rule (the
busiest rules each get their own, the rest share one), with a tooltip on every segment.

Only geometry is computed here; the template writes the SVG elements (so every label is escaped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tokentrail.catalog.site.report import RuleHealth

WIDTH, HEIGHT = 960, 280
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 48, 56, 12
# Colours told apart by most readers, including with the common colour-vision deficiencies.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7")
OTHER_COLOUR = "#9c9c9c"


@dataclass(frozen=True, slots=True)
class Bar:
    """One rule's segment of one day's bar."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """What the SVG draws: bars, axis ticks (position, label) and the legend (colour, label, anchor)."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    legend: tuple[tuple[str, str, str], ...]
    baseline: float


def alerts_chart(rules: Sequence[RuleHealth], days: Sequence[str], anchors: dict[str, str],
                 colours: int = len(PALETTE)) -> Chart:
    """The chart of ``rules``' alerts over ``days``; ``anchors`` gives each rule's section id."""
    busy = sorted((r for r in rules if r.alerts), key=lambda r: (-r.alerts, r.title))
    own, rest = busy[:colours], busy[colours:]
    series = [(r.title, PALETTE[i], dict(r.per_day), anchors.get(r.id, "")) for i, r in enumerate(own)]
    if rest:
        merged: dict[str, int] = {}
        for r in rest:
            for day, n in r.per_day:
                merged[day] = merged.get(day, 0) + n
        series.append((f"{len(rest)} other rule(s)", OTHER_COLOUR, merged, ""))
    totals = [sum(s[2].get(day, 0) for s in series) for day in days]
    top = _nice(max(totals, default=0))
    plot_w, plot_h = WIDTH - MARGIN_LEFT - 8, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    baseline = MARGIN_TOP + plot_h
    slot = plot_w / max(len(days), 1)
    bar_w = max(min(slot * 0.8, 48.0), 1.0)
    bars = []
    for i, day in enumerate(days):
        x = MARGIN_LEFT + i * slot + (slot - bar_w) / 2
        y = baseline
        for title, colour, per_day, _ in series:
            n = per_day.get(day, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            bars.append(Bar(round(x, 2), round(y, 2), round(bar_w, 2), round(h, 2), colour,
                            f"{day}: {title}: {n} alert(s)"))
    step = max(1, -(-len(days) // 12))  # at most about 12 day labels
    x_ticks = tuple((round(MARGIN_LEFT + i * slot + slot / 2, 2), day) for i, day in enumerate(days) if i % step == 0)
    y_ticks = tuple((round(baseline - plot_h * v / top, 2), str(v)) for v in _ticks(top))
    legend = tuple((colour, title, anchor) for title, colour, _, anchor in series)
    return Chart(WIDTH, HEIGHT, tuple(bars), x_ticks, y_ticks, legend, baseline)


def _nice(value: int) -> int:
    """The smallest of 1, 2, 5 times a power of ten at or above ``value`` (at least 1)."""
    scale = 1
    while True:
        for m in (1, 2, 5):
            if m * scale >= value:
                return m * scale
        scale *= 10


def _ticks(top: int) -> list[int]:
    step = max(top // 5, 1)
    return list(range(0, top + 1, step))
