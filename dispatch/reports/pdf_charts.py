"""Vector charts of the PDF report, drawn by reportlab's chart classes from plain values; the dashboard draws the same in SVG.

Figures, shares and axis values are written the French way (dispatch.french); labels too long for their column are
cut with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportlab.graphics.charts.barcharts import BarChart, HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import Color, HexColor
from reportlab.pdfbase.pdfmetrics import stringWidth

from dispatch.french import MONTHS_SHORT, number, percent
from dispatch.pdf import BOLD, FONT, printable

# The dashboard's colours (style.css), each at least 3:1 against white.
INK, MUTED, AXIS, GRID = HexColor("#1a2230"), HexColor("#5b6678"), HexColor("#6b7a90"), HexColor("#dde3ec")
OPENED, ACCEPTED, TIME, OTHER = HexColor("#7489ab"), HexColor("#2e8b57"), HexColor("#3b74c7"), HexColor("#8a5a00")
# Labels first, then bars and their figures: a text extractor reads a chart's categories before its figures.
_LABELS_FIRST = "background=0, categoryAxisGrid=1, valueAxisGrid=2, categoryAxis=3, valueAxis=4, bars=5, barLabels=6"


def _style(chart: BarChart, *, size: float) -> None:
    """Give a bar chart the report's look: no frame, no ticks, labels in the embedded font."""
    chart.strokeColor = None
    chart.zIndexOverrides = _LABELS_FIRST
    chart.categoryAxis.visibleTicks = False
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = size
    chart.valueAxis.valueMin = 0
    chart.valueAxis.visibleTicks = False
    chart.valueAxis.labels.fontName = FONT
    chart.barLabels.fontName = BOLD
    chart.barLabels.fontSize = size
    chart.barLabels.fillColor = INK


def bars(
    items: Sequence[tuple[str, int]], *, width: float, colour: Color = ACCEPTED, total: int | None = None, row: float = 15
) -> Drawing:
    """Draw one horizontal bar per (label, value), in the order given, its figure at its end; with `total`, its share too."""
    size = 7.5
    label_width = min(max([stringWidth(printable(label), FONT, size) for label, _v in items] + [20]) + 8, width * 0.5)
    figure_width = 66 if total else 34
    drawing = Drawing(width, row * max(len(items), 1) + 2)
    if not items:
        return drawing
    chart = HorizontalBarChart()
    _style(chart, size=size)
    chart.x, chart.y = label_width, 1
    chart.width, chart.height = width - label_width - figure_width - 4, row * len(items)
    chart.data = [[value for _label, value in items]]
    chart.barWidth, chart.groupSpacing = row - 5, 5  # relative: a bar fills row - 5 of each row
    chart.bars[0].fillColor, chart.bars[0].strokeColor = colour, None
    chart.categoryAxis.categoryNames = [_fit(printable(label), label_width - 6, size) for label, _value in items]
    chart.categoryAxis.reverseDirection = True  # the first item on top
    chart.categoryAxis.visibleAxis = False
    chart.categoryAxis.labels.boxAnchor, chart.categoryAxis.labels.dx = "e", -6
    chart.categoryAxis.labels.fillColor = INK
    chart.valueAxis.visible = False  # each bar says its figure
    chart.valueAxis.valueMax = max([value for _label, value in items] + [1])

    def figure(value: float) -> str:
        return number(value) + (f" ({percent(value / total, 0)})" if total else "")

    chart.barLabelFormat = figure
    chart.barLabels.boxAnchor, chart.barLabels.dx = "w", 4
    drawing.add(chart)
    return drawing


def _fit(text: str, width: float, size: float) -> str:
    """Cut a label that would not fit its column, with an ellipsis."""
    if stringWidth(text, FONT, size) <= width:
        return text
    while text and stringWidth(text + "…", FONT, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _month_names(by_month: Sequence[dict[str, Any]]) -> list[str]:
    """Return each month's axis label: 'janv.', with the year under the first month and under January.

    Over more than twelve months, every other month is named (January always), so the labels never touch.
    """
    names = []
    for index, month in enumerate(by_month):
        year, number_of_month = month["month"].split("-")
        shown = len(by_month) <= 12 or index % 2 == 0 or number_of_month == "01"
        name = MONTHS_SHORT[int(number_of_month) - 1] if shown else ""
        names.append(f"{name}\n{year}" if index == 0 or number_of_month == "01" else name)
    return names


def months(by_month: Sequence[dict[str, Any]], *, width: float, height: float = 190) -> Drawing:
    """Draw opened and accepted requests per month as paired columns, the share accepted above each pair."""
    drawing = Drawing(width, height)
    small = len(by_month) > 12
    chart = VerticalBarChart()
    _style(chart, size=6.5 if small else 7)
    chart.x, chart.y = 34, 30
    chart.width, chart.height = width - chart.x - 4, height - chart.y - 16
    chart.data = [[month["opened"] for month in by_month] or [0], [month["accepted"] for month in by_month] or [0]]
    slot = chart.width / max(len(by_month), 1)
    bar = min(slot * 0.36, 16)
    chart.barWidth, chart.barSpacing, chart.groupSpacing = bar, 0, slot - 2 * bar
    for index, colour in enumerate((OPENED, ACCEPTED)):
        chart.bars[index].fillColor, chart.bars[index].strokeColor = colour, None
    chart.categoryAxis.categoryNames = _month_names(by_month) or [""]
    chart.categoryAxis.strokeColor, chart.categoryAxis.strokeWidth = AXIS, 0.6
    chart.categoryAxis.labels.boxAnchor, chart.categoryAxis.labels.dy = "n", -4
    chart.categoryAxis.labels.fillColor = MUTED
    chart.categoryAxis.labels.leading = 9
    peak = max([month["opened"] for month in by_month] + [0])
    axis = chart.valueAxis
    axis.visibleAxis = False
    axis.visibleGrid, axis.gridStrokeColor, axis.gridStrokeWidth = True, GRID, 0.4
    axis.rangeRound, axis.maximumTicks = "ceiling", 6  # round steps: 0, 100, 200, 300
    if peak < 4:  # whole requests only: 0 to 4 by one
        axis.valueMax, axis.valueStep = 4, 1
    axis.labelTextFormat = number
    axis.labels.fontSize, axis.labels.fillColor, axis.labels.dx = 7, MUTED, -4
    shares = [percent(month["acceptance_rate"], 0) if month["acceptance_rate"] is not None else "" for month in by_month]
    chart.barLabelFormat = "values"
    chart.barLabelArray = [shares or [""], [""] * max(len(by_month), 1)]
    chart.barLabels.fontSize = 6 if small else 7
    chart.barLabels.boxAnchor, chart.barLabels.dx, chart.barLabels.dy = "s", bar / 2, 1  # centred above the pair
    drawing.add(chart)
    return drawing


def legend(items: Sequence[tuple[Color, str]], *, width: float) -> Drawing:
    """Draw a one-line legend of coloured squares and their labels."""
    drawing = Drawing(width, 12)
    key = Legend()
    key.x, key.y = 0, 11
    key.alignment, key.boxAnchor = "right", "nw"
    key.columnMaximum, key.deltax, key.dx, key.dy = 1, 14, 8, 8
    key.fontName, key.fontSize, key.fillColor = FONT, 7.5, MUTED
    key.strokeColor, key.strokeWidth = None, 0
    key.colorNamePairs = [(colour, printable(label)) for colour, label in items]
    key.variColumn, key.autoXPadding = True, 14  # each label its own width
    drawing.add(key)
    return drawing
