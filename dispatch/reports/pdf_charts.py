"""Vector charts of the PDF report (reportlab drawings), from plain values; the dashboard draws the same in SVG.

Each bar chart writes a row's label, then its bar, then its figure, so a PDF reader (and a text extractor)
finds "ORL 360" together.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib.colors import Color, HexColor
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from dispatch.french import MONTHS_SHORT, number, percent
from dispatch.reports.scales import axis_top

FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
_FONTS = Path(__file__).resolve().parent / "fonts"

# The dashboard's colours (style.css), each at least 3:1 against white.
INK, MUTED, AXIS, GRID = HexColor("#1a2230"), HexColor("#5b6678"), HexColor("#6b7a90"), HexColor("#dde3ec")
OPENED, ACCEPTED, TIME, OTHER = HexColor("#7489ab"), HexColor("#2e8b57"), HexColor("#3b74c7"), HexColor("#8a5a00")


def register_fonts() -> None:
    """Register the embedded DejaVu Sans (regular and bold) with reportlab, once per process."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(FONT, str(_FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(_FONTS / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


def _string(
    x: float, y: float, text: str, *, size: float = 8, bold: bool = False, anchor: str = "start", fill: Color = INK
) -> String:
    return String(x, y, text, fontName=BOLD if bold else FONT, fontSize=size, fillColor=fill, textAnchor=anchor)


def bars(
    items: Sequence[tuple[str, int]], *, width: float, colour: Color = ACCEPTED, total: int | None = None, row: float = 15
) -> Drawing:
    """Draw one horizontal bar per (label, value), in the order given; with `total`, each figure shows its share."""
    size = 7.5
    label_width = min(max([pdfmetrics.stringWidth(label, FONT, size) for label, _v in items] + [20]) + 8, width * 0.5)
    figure_width = 66 if total else 34
    span = width - label_width - figure_width - 4
    peak = max([value for _label, value in items] + [1])
    height = row * max(len(items), 1) + 2
    drawing = Drawing(width, height)
    for index, (label, value) in enumerate(items):
        y = height - (index + 1) * row
        drawing.add(_string(label_width - 6, y + 4, _fit(label, label_width - 6, size), size=size, anchor="end"))
        length = span * value / peak
        drawing.add(Rect(label_width, y + 2, max(length, 0.01), row - 5, fillColor=colour, strokeColor=None))
        figure = number(value) + (f" ({percent(value / total, 0)})" if total else "")
        drawing.add(_string(label_width + length + 4, y + 4, figure, size=size, bold=True))
    return drawing


def _fit(text: str, width: float, size: float) -> str:
    """Cut a label that would not fit its column, with an ellipsis."""
    if pdfmetrics.stringWidth(text, FONT, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", FONT, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def months(by_month: Sequence[dict[str, Any]], *, width: float, height: float = 190) -> Drawing:
    """Draw opened and accepted requests per month as paired columns, the share accepted above each pair."""
    drawing = Drawing(width, height)
    left, bottom, top = 34, 30, 16
    plot_width, plot_height = width - left - 4, height - bottom - top
    peak = axis_top(max([month["opened"] for month in by_month] + [1]))
    for step in range(5):
        value = peak * step / 4
        y = bottom + plot_height * step / 4
        drawing.add(Line(left, y, width - 4, y, strokeColor=AXIS if step == 0 else GRID, strokeWidth=0.6 if step == 0 else 0.4))
        drawing.add(_string(left - 4, y - 2.5, number(value), size=7, anchor="end", fill=MUTED))
    slots = max(len(by_month), 1)
    slot = plot_width / slots
    bar = min(slot * 0.36, 16)
    small = slots > 12
    for index, month in enumerate(by_month):
        centre = left + slot * (index + 0.5)
        year, number_of_month = month["month"].split("-")
        if not small or index % 2 == 0 or number_of_month == "01":
            size = 6.5 if small else 7
            drawing.add(
                _string(centre, bottom - 10, MONTHS_SHORT[int(number_of_month) - 1], size=size, anchor="middle", fill=MUTED)
            )
        if index == 0 or number_of_month == "01":  # the year under the period's first month and under January
            drawing.add(_string(centre, bottom - 19, year, size=6.5, anchor="middle", fill=MUTED))
        for offset, key, colour in ((-bar, "opened", OPENED), (0.0, "accepted", ACCEPTED)):
            h = plot_height * month[key] / peak
            if h > 0:
                drawing.add(Rect(centre + offset, bottom, bar, h, fillColor=colour, strokeColor=None))
        if month["opened"]:
            share = percent(month["accepted"] / month["opened"], 0)
            y = bottom + plot_height * month["opened"] / peak + 3
            drawing.add(_string(centre, y, share, size=6 if small else 7, bold=True, anchor="middle"))
    return drawing


def legend(items: Sequence[tuple[Color, str]], *, width: float) -> Drawing:
    """Draw a one-line legend of coloured squares and their labels."""
    drawing = Drawing(width, 12)
    x = 0.0
    for colour, label in items:
        drawing.add(Rect(x, 2, 8, 8, fillColor=colour, strokeColor=None))
        drawing.add(_string(x + 11, 3, label, size=7.5, fill=MUTED))
        x += 11 + pdfmetrics.stringWidth(label, FONT, 7.5) + 14
    return drawing
