"""French typography for figures, durations and periods, shared by the pages, the PDF report and the messages.

Numbers group their thousands with a narrow no-break space ("4 000"), decimals take a comma ("80,1 %"), a
unit never leaves its number on a line of its own ("58 min 59 s" with no-break spaces), and the high
punctuation marks (: ; ? ! ») keep their space before them on the same line. No I/O, no clock.
"""

from __future__ import annotations

import re
from datetime import date

NBSP = "\u00a0"  # espace insécable: before ":" and inside « », between a number and its unit
NNBSP = "\u202f"  # espace fine insécable: thousands, before ";", "?", "!" and "%"

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre")
MONTHS_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
_SPACED = re.compile(r"[ \t]+([:;?!»%])|(«)[ \t]+")
_BEFORE = {":": NBSP, "»": NBSP, ";": NNBSP, "?": NNBSP, "!": NNBSP, "%": NNBSP}


def number(value: float | None, decimals: int = 0) -> str:
    """Return 4000 as '4 000' and 1234.5 (decimals=1) as '1 234,5'; '—' for None."""
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", NNBSP).replace(".", ",")


def percent(share: float | None, decimals: int = 1) -> str:
    """Return a share between 0 and 1 as a French percentage: 0.8013 → '80,1 %'; '—' for None."""
    if share is None:
        return "—"
    return f"{number(share * 100, decimals)}{NNBSP}%"


def duration(seconds: float | None, *, with_seconds: bool = False) -> str:
    """Return a duration as '21 min', '1 h 08', '2 h', or with seconds '58 min 59 s', with no-break spaces; '—' for None.

    Minutes are rounded (or cut, with seconds), so a countdown never shows more time than is left.
    """
    if seconds is None:
        return "—"
    total = max(0, int(seconds)) if with_seconds else max(0, int(seconds + 30) // 60 * 60)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}{NBSP}h{NBSP}{minutes:02d}" if minutes else f"{hours}{NBSP}h"
    if with_seconds:
        return f"{minutes}{NBSP}min{NBSP}{secs:02d}{NBSP}s"
    return f"{minutes}{NBSP}min"


def day(value: date, *, year: bool = True) -> str:
    """Return a date as '1er janvier 2023' ('1er' for the first of the month), without the year if asked."""
    first = "1er" if value.day == 1 else str(value.day)
    words = f"{first}{NBSP}{MONTHS[value.month - 1]}"
    return f"{words} {value.year}" if year else words


def period(start: date, end: date) -> str:
    """Return a period in words: 'du 1er janvier au 31 décembre 2023', 'du 1er au 30 novembre 2026', 'le 3 mars 2024'."""
    if start == end:
        return f"le {day(start)}"
    if start.year != end.year:
        return f"du {day(start)} au {day(end)}"
    if start.month == end.month:
        first = "1er" if start.day == 1 else str(start.day)
        return f"du {first} au {day(end)}"
    return f"du {day(start, year=False)} au {day(end)}"


def month(label: str, *, short: bool = False) -> str:
    """Return '2023-01' as 'janvier 2023' (or 'janv. 2023' when short)."""
    year, index = (int(part) for part in label.split("-"))
    return f"{(MONTHS_SHORT if short else MONTHS)[index - 1]}{NBSP}{year}"


def typography(text: str) -> str:
    """Put the no-break space French wants before : ; ? ! » % and after «, in place of a plain one."""

    def fix(found: re.Match[str]) -> str:
        if found.group(2):
            return "«" + NBSP
        return _BEFORE[found.group(1)] + found.group(1)

    return _SPACED.sub(fix, text)
