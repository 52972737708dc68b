"""What every PDF we print shares (the report, the consultation synthesis): the embedded fonts, text made safe for them, the footer.

PDF's standard fonts know neither the narrow no-break space French puts in "4 000" and "80,1 %" nor "œ": both
documents embed DejaVu Sans (fonts/, a subset) through reportlab. No I/O but reading those fonts.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path
from typing import Any

from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
NBSP, NNBSP = "\u00a0", "\u202f"
_FONTS = Path(__file__).resolve().parent / "fonts"


def register_fonts() -> None:
    """Register the embedded DejaVu Sans (regular and bold) with reportlab, once per process."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(FONT, str(_FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(_FONTS / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


@functools.cache
def _drawn() -> frozenset[int]:
    """Return the code points both embedded fonts have a glyph for."""
    register_fonts()
    regular, bold = (pdfmetrics.getFont(name) for name in (FONT, BOLD))
    return frozenset(regular.face.charToGlyph) & frozenset(bold.face.charToGlyph)


def _printable_char(char: str) -> str:
    drawn = _drawn()
    if ord(char) in drawn or char in "\n\t":
        return char
    decomposed = unicodedata.normalize("NFKD", char)  # 'ﬁ' -> 'fi', 'ǆ' -> 'dž'
    return decomposed if decomposed and all(ord(c) in drawn for c in decomposed) else "?"


def printable(text: str) -> str:
    """Return the text with what the embedded fonts cannot draw replaced: by its decomposition, else by '?'."""
    drawn = _drawn()
    if all(ord(char) in drawn for char in text):
        return text
    return "".join(_printable_char(char) for char in text)


def markup(text: str) -> str:
    """Return plain text as a reportlab paragraph's markup: escaped, printable, its line breaks kept.

    reportlab breaks lines at U+202F (and drops it) but keeps U+00A0 whole: the only way to keep "1 555" on one line.
    """
    escaped = printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace(NNBSP, NBSP).replace("\r\n", "\n").replace("\n", "<br/>")


def numbered(footer: str, *, margin: float, baseline: float, colour: Color, size: float = 7.5) -> type[Canvas]:
    """Return a canvas class that writes `footer` and 'page n sur N' at the foot of each page, once N is known."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 -- reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(FONT, size)
                self.setFillColor(colour)
                self.drawString(margin, baseline, printable(footer))
                self.drawRightString(self._pagesize[0] - margin, baseline, f"page {self._pageNumber} sur {len(self._pages)}")
                super().showPage()
            super().save()

    return NumberedCanvas
