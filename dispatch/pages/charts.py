"""Charts of the staff dashboard, rendered server-side as inline SVG from plain values (no I/O).

The SVGs are never scaled: positions along the width are percentages and text sizes are CSS pixels, so a label
set at 12 px reads 12 px on a phone as on a desktop. Bar charts put each label on its own line with its figure
at the right end and the bar below; the monthly chart scrolls inside its card when the screen is too narrow for
its columns (style.css, .chart-months: 46 px a month at the least).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from dispatch.french import MONTHS_SHORT, NBSP, number, percent
from dispatch.reports.scales import axis_top

ROW = 38  # px per bar: a line of text, then the bar
BAR = 11
MONTH_HEIGHT, MONTH_TOP, MONTH_BOTTOM = 260, 26, 40


def _text(x: str, y: float, value: object, cls: str, anchor: str = "start") -> str:
    return f'<text x="{x}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}">{escape(str(value))}</text>'


def _svg(body: list[str], label: str, height: int, cls: str = "chart", width: str = "100%") -> str:
    # Every text part went through escape(); numbers are formatted by us.
    return (
        f'<svg class="{cls}" width="{width}" height="{height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>{"".join(body)}</svg>'
    )


def bars(items: Sequence[tuple[str, int]], title: str, *, total: int | None = None, cls: str = "bar-accepted") -> Markup:
    """Draw one bar per (label, value) in the order given; with `total`, each figure shows its share of it."""
    peak = max([value for _label, value in items] + [1])
    body = []
    for index, (label, value) in enumerate(items):
        y = index * ROW
        figure = number(value) + (f" ({percent(value / total, 0)})" if total else "")
        body.append(_text("0", y + 15, label, "lbl"))
        body.append(_text("100%", y + 15, figure, "val", "end"))
        body.append(f'<rect x="0" y="{y + 21}" width="100%" height="{BAR}" rx="2" class="track"/>')
        if value:
            body.append(f'<rect x="0" y="{y + 21}" width="{100 * value / peak:.2f}%" height="{BAR}" rx="2" class="{cls}"/>')
    return Markup(_svg(body, title, max(len(items), 1) * ROW))  # noqa: S704


def acceptance_by_month(by_month: Sequence[dict[str, Any]]) -> Markup:
    """Draw opened and accepted requests per month as paired columns, the share accepted above each pair."""
    slots = max(len(by_month), 1)
    peak = axis_top(max([month["opened"] for month in by_month] + [1]))
    plot = MONTH_HEIGHT - MONTH_TOP - MONTH_BOTTOM
    base = MONTH_HEIGHT - MONTH_BOTTOM
    axis, body = [], []
    for step in range(5):
        y = base - plot * step / 4
        axis.append(_text("100%", y + 4, number(peak * step / 4), "tick", "end"))
        body.append(f'<line x1="0" y1="{y:.1f}" x2="100%" y2="{y:.1f}" class="{"axis" if step == 0 else "grid"}"/>')
    slot = 100 / slots
    bar = slot * 0.34
    for index, month in enumerate(by_month):
        centre = slot * (index + 0.5)
        for left, key, cls in ((centre - bar, "opened", "bar-opened"), (centre, "accepted", "bar-accepted")):
            h = plot * month[key] / peak
            name = "ouvertes" if key == "opened" else "acceptées"
            body.append(
                f'<rect x="{left:.2f}%" y="{base - h:.1f}" width="{bar:.2f}%" height="{h:.1f}" class="{cls}">'
                f"<title>{escape(_month_name(month['month']))}{NBSP}: {number(month[key])} {name}</title></rect>"
            )
        if month["opened"] and month["acceptance_rate"] is not None:
            share = percent(month["acceptance_rate"], 0)
            body.append(_text(f"{centre:.2f}%", base - plot * month["opened"] / peak - 6, share, "val", "middle"))
        year, index_in_year = month["month"].split("-")
        body.append(_text(f"{centre:.2f}%", base + 18, MONTHS_SHORT[int(index_in_year) - 1], "tick", "middle"))
        if index == 0 or index_in_year == "01":
            body.append(_text(f"{centre:.2f}%", base + 34, year, "tick", "middle"))
    title = "Demandes ouvertes et acceptées par mois"
    axis_svg = f'<svg class="chart-axis" width="44" height="{MONTH_HEIGHT}" aria-hidden="true">{"".join(axis)}</svg>'
    plot_svg = _svg(body, title, MONTH_HEIGHT, "chart months")
    return Markup(  # noqa: S704
        f'<div class="chart-scroll" role="group" tabindex="0" aria-label="{escape(title)}">'
        f'<div class="chart-months{" many" if slots > 13 else ""}">{axis_svg}{plot_svg}</div></div>'
    )


def _month_name(label: str) -> str:
    year, index = label.split("-")
    return f"{MONTHS_SHORT[int(index) - 1]}{NBSP}{year}"
