"""The colours of style.css: text at least 4.5:1 on its background, controls and chart marks at least 3:1 (WCAG 2.2).

The pairs are read from the variables of `:root`, so changing a colour there is checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STYLE = Path(__file__).resolve().parents[2] / "dispatch" / "static" / "style.css"
TEXT, GRAPHIC = 4.5, 3.0

# (foreground, background, minimum): every text colour on every background it is used on, then the controls'
# borders and the charts' marks on the card they sit on.
PAIRS = [
    *[(ink, ground, TEXT) for ink in ("ink", "muted", "primary", "danger") for ground in ("bg", "card")],
    ("primary-ink", "primary", TEXT),
    ("card", "danger", TEXT),
    ("card", "ok", TEXT),
    ("ok", "ok-bg", TEXT),
    ("warn", "warn-bg", TEXT),
    ("danger", "danger-bg", TEXT),
    ("muted", "ok-bg", TEXT),
    ("top-ink", "top", TEXT),
    ("top-link", "top", TEXT),
    ("control", "card", GRAPHIC),
    ("control", "bg", GRAPHIC),
    ("focus", "card", GRAPHIC),
    ("focus", "bg", GRAPHIC),
    ("axis", "card", GRAPHIC),
    *[(bar, "card", GRAPHIC) for bar in ("bar-opened", "bar-accepted", "bar-time", "bar-other")],
    *[(bar, "track", GRAPHIC) for bar in ("bar-opened", "bar-accepted", "bar-time", "bar-other")],
]


def variables() -> dict[str, str]:
    """Return the colour variables of :root, as #rrggbb."""
    root = re.search(r":root\s*\{(.*?)\}", STYLE.read_text(encoding="utf-8"), re.S)
    assert root is not None
    found = {}
    for name, value in re.findall(r"--([\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\b", root.group(1)):
        found[name] = value if len(value) == 7 else "#" + "".join(c * 2 for c in value[1:])
    return found


def luminance(colour: str) -> float:
    """Return the relative luminance of an sRGB colour (WCAG 2.2)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def ratio(first: str, second: str) -> float:
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_ratio_is_computed_as_wcag_says() -> None:
    assert round(ratio("#000000", "#ffffff"), 2) == 21.0 and ratio("#777777", "#777777") == 1.0
    assert round(ratio("#767676", "#ffffff"), 2) == 4.54  # the classic lightest grey that passes on white
    assert round(ratio("#b9c3d3", "#ffffff"), 2) == 1.78  # the input border of issue 17


@pytest.mark.parametrize(("foreground", "background", "minimum"), PAIRS)
def test_colour_pairs_are_legible(foreground: str, background: str, minimum: float) -> None:
    colours = variables()
    value = ratio(colours[foreground], colours[background])
    assert value >= minimum, f"--{foreground} on --{background}: {value:.2f}:1 < {minimum}:1"


def test_controls_and_charts_use_the_checked_variables() -> None:
    """Inputs, buttons and chart bars take their colours from the variables above, not from a literal."""
    css = STYLE.read_text(encoding="utf-8")
    rules = {
        "input, select, textarea {": "border: 1px solid var(--control)",
        ".btn {": "border: 1px solid var(--control)",
        "svg .bar-opened {": "fill: var(--bar-opened)",
        "svg .bar-accepted {": "fill: var(--bar-accepted)",
        "svg .bar-time {": "fill: var(--bar-time)",
        "svg .axis {": "stroke: var(--axis)",
    }
    for selector, declaration in rules.items():
        start = css.index(selector)
        assert declaration in css[start : css.index("}", start)], selector
