"""Charts of the staff dashboard, rendered server-side as inline SVG from plain values (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

MONTHS_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    # Every text part went through escape(); numbers are formatted by us.
    svg = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>{"".join(body)}</svg>'
    )
    return Markup(svg)  # noqa: S704


def _text(x: float, y: float, value: object, cls: str = "lbl", anchor: str = "middle") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}">{escape(str(value))}</text>'


def month_label(month: str) -> str:
    """Return '2023-01' as 'janv. 23'."""
    year, number = month.split("-")
    return f"{MONTHS_SHORT[int(number) - 1]} {year[2:]}"


def acceptance_by_month(by_month: Sequence[dict[str, Any]]) -> Markup:
    """Draw opened and accepted requests per month as paired bars, with the month's acceptance rate."""
    width, height, top, bottom, left = 1100, 280, 28, 40, 36
    slots = max(len(by_month), 1)
    peak = max([m["opened"] for m in by_month] + [1])
    slot = (width - left - 8) / slots
    bar = max(min(slot * 0.36, 28), 2)
    plot = height - top - bottom
    body = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 4}" y2="{height - bottom}" class="axis"/>',
        _text(left - 6, top + 4, peak, "tick", "end"),
        _text(left - 6, height - bottom, 0, "tick", "end"),
    ]
    for index, month in enumerate(by_month):
        x = left + index * slot + slot / 2
        for offset, key, cls in ((-bar, "opened", "bar-opened"), (0.0, "accepted", "bar-accepted")):
            h = plot * month[key] / peak
            body.append(
                f'<rect x="{x + offset:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" class="{cls}"><title>{escape(key)}: {month[key]}</title></rect>'
            )
        denominator = month["opened"]
        if denominator:
            rate = round(100 * month["accepted"] / denominator)
            body.append(_text(x, height - bottom - plot * month["opened"] / peak - 6, f"{rate} %", "val"))
        if slots <= 12 or index % 2 == 0:
            body.append(_text(x, height - bottom + 18, month_label(month["month"]), "tick"))
    return _svg(width, height, body, "Demandes ouvertes et acceptées par mois")


def horizontal_bars(values: dict[str, int], labels: dict[str, str], title: str) -> Markup:
    """Draw one labelled horizontal bar per key, largest first, zeros included."""
    items = sorted(values.items(), key=lambda kv: -kv[1])
    width, row, left = 520, 30, 190
    height = max(len(items), 1) * row + 8
    peak = max([v for _k, v in items] + [1])
    body = []
    for index, (key, value) in enumerate(items):
        y = 4 + index * row
        w = (width - left - 60) * value / peak
        body.append(_text(left - 8, y + 19, labels.get(key, key), "lbl", "end"))
        body.append(f'<rect x="{left}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" class="bar-accepted"/>')
        body.append(_text(left + w + 6, y + 19, value, "val", "start"))
    return _svg(width, height, body, title)


BUCKETS = ((300, "< 5 min"), (900, "5–15 min"), (1800, "15–30 min"), (3600, "30 min–1 h"), (7200, "1–2 h"), (None, "> 2 h"))


def bucket_counts(seconds: Sequence[float]) -> list[tuple[str, int]]:
    """Count times to accept into the dashboard's buckets."""
    counts = [0] * len(BUCKETS)
    for value in seconds:
        for index, (limit, _label) in enumerate(BUCKETS):
            if limit is None or value < limit:
                counts[index] += 1
                break
    return [(label, counts[index]) for index, (_limit, label) in enumerate(BUCKETS)]


def distribution(buckets: Sequence[tuple[str, int]]) -> Markup:
    """Draw how long requests waited before being accepted, one column per bucket."""
    width, height, top, bottom, left = 520, 220, 24, 36, 12
    slot = (width - 2 * left) / max(len(buckets), 1)
    peak = max([count for _label, count in buckets] + [1])
    plot = height - top - bottom
    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" class="axis"/>']
    for index, (label, count) in enumerate(buckets):
        x = left + index * slot
        h = plot * count / peak
        body.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{height - bottom - h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}" class="bar-time"/>'
        )
        body.append(_text(x + slot / 2, height - bottom - h - 6, count, "val"))
        body.append(_text(x + slot / 2, height - bottom + 18, label, "tick"))
    return _svg(width, height, body, "Répartition du délai d'acceptation")
