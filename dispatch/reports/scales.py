"""The scale of the dashboard's SVG charts' value axis, without reportlab (the PDF's charts use reportlab's value axis)."""

from __future__ import annotations


def axis_top(value: float) -> float:
    """Return the smallest of 1, 2, 4, 5, 8 × 10^n at least `value`: the top of an axis of four round steps."""
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    for factor in (1, 2, 4, 5, 8, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude
