"""French typography for figures, durations and periods, shared by the pages, the PDF report and the messages.

Numbers group their thousands with a narrow no-break space ("4 000"), decimals take a comma ("80,1 %"), a
unit never leaves its number on a line of its own ("58 min 59 s" with no-break spaces), and the high
punctuation marks (: ; ? ! ») keep their space before them on the same line. Figures, month and day names come
from Babel's French locale (CLDR). No I/O but Babel's locale data, no clock.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from babel.dates import format_date, format_time, get_day_names, get_month_names
from babel.numbers import format_decimal, format_percent

LOCALE = "fr_FR"
NBSP = "\u00a0"  # espace insécable: before ":" and inside « », between a number and its unit
NNBSP = "\u202f"  # espace fine insécable: thousands, before ";", "?", "!" and "%"

MONTHS = tuple(get_month_names("wide", locale=LOCALE)[index] for index in range(1, 13))  # janvier ... décembre
MONTHS_SHORT = tuple(get_month_names("abbreviated", locale=LOCALE)[index] for index in range(1, 13))  # janv. ... déc.
DAYS = tuple(get_day_names("wide", locale=LOCALE)[index] for index in range(7))  # lundi ... dimanche, as date.weekday()
_SPACED = re.compile(r"[ \t]+([:;?!»%])|(«)[ \t]+")
_BEFORE = {":": NBSP, "»": NBSP, ";": NNBSP, "?": NNBSP, "!": NNBSP, "%": NNBSP}


def _decimals(count: int) -> str:
    """Return the fraction part of a Babel number pattern with exactly `count` decimals: '', '.0', '.00'..."""
    return "." + "0" * count if count else ""


def count(value: int, singular: str, plural: str) -> str:
    """Return '1 demande annulée', '0 demande annulée' or '2 demandes annulées': French takes the singular below 2."""
    return f"{number(value)} {singular if abs(value) < 2 else plural}"


def number(value: float | None, decimals: int = 0) -> str:
    """Return 4000 as '4 000' and 1234.5 (decimals=1) as '1 234,5'; '—' for None."""
    if value is None:
        return "—"
    return format_decimal(value, format=f"#,##0{_decimals(decimals)}", locale=LOCALE)


def percent(share: float | None, decimals: int = 1) -> str:
    """Return a share between 0 and 1 as a French percentage: 0.8013 → '80,1 %'; '—' for None."""
    if share is None:
        return "—"
    # CLDR puts a no-break space before "%"; we keep the narrow one, as before ";", "?" and "!" (see typography).
    return format_percent(share, format=f"#,##0{_decimals(decimals)}{NNBSP}%", locale=LOCALE)


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


def day_pattern(value: date) -> str:
    """Return the Babel pattern of a day of the month: 'd', or '1er' quoted on the first (CLDR writes '1')."""
    return "'1er'" if value.day == 1 else "d"


def day(value: date, *, year: bool = True) -> str:
    """Return a date as '1er janvier 2023' ('1er' for the first of the month), without the year if asked."""
    return format_date(value, f"{day_pattern(value)}{NBSP}MMMM{' y' if year else ''}", locale=LOCALE)


def hour(value: datetime) -> str:
    """Return the time of day as '09:30' in the value's own zone (convert it first)."""
    return format_time(value, "HH:mm", locale=LOCALE)


def period(start: date, end: date) -> str:
    """Return a period in words: 'du 1er janvier au 31 décembre 2023', 'du 1er au 30 novembre 2026', 'le 3 mars 2024'."""
    if start == end:
        return f"le {day(start)}"
    if start.year != end.year:
        return f"du {day(start)} au {day(end)}"
    if start.month == end.month:
        return f"du {format_date(start, day_pattern(start), locale=LOCALE)} au {day(end)}"
    return f"du {day(start, year=False)} au {day(end)}"


def month(label: str, *, short: bool = False) -> str:
    """Return '2023-01' as 'janvier 2023' (or 'janv. 2023' when short)."""
    year, index = (int(part) for part in label.split("-"))
    return format_date(date(year, index, 1), f"{'MMM' if short else 'MMMM'}{NBSP}y", locale=LOCALE)


def typography(text: str) -> str:
    """Put the no-break space French wants before : ; ? ! » % and after «, in place of a plain one."""

    def fix(found: re.Match[str]) -> str:
        if found.group(2):
            return "«" + NBSP
        return _BEFORE[found.group(1)] + found.group(1)

    return _SPACED.sub(fix, text)
