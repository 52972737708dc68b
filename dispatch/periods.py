"""Local calendar periods of a community turned into UTC instants, without I/O or clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# The longest range a report covers: two years, a leap day included.
MAX_DAYS = 731
# The days a period may start or end on (API and pages alike): year 1 or 9999 would overflow the UTC bounds.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
OUT_OF_RANGE = "Date hors de la plage acceptée (2000 à 2100)."


@dataclass(frozen=True)
class Month:
    """One calendar month of the range, clipped to it: its label, its UTC bounds [start, end), its local days."""

    label: str
    start: datetime
    end: datetime
    first: date
    last: date


def local_midnight(day: date, zone: str) -> datetime:
    """Return the UTC instant at which `day` begins in the time zone `zone`."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def utc_bounds(start: date, end: date, zone: str) -> tuple[datetime, datetime]:
    """Return the UTC instants [lower, upper) covering the local days `start` to `end` inclusive."""
    return local_midnight(start, zone), local_midnight(end + timedelta(days=1), zone)


def months(start: date, end: date, zone: str) -> list[Month]:
    """Return every calendar month touched by the local days `start` to `end`, clipped to them."""
    out: list[Month] = []
    first = start
    while first <= end:
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        last = min(end, following - timedelta(days=1))
        lower, upper = utc_bounds(first, last, zone)
        out.append(Month(f"{first.year:04d}-{first.month:02d}", lower, upper, first, last))
        first = following
    return out


def shortcuts(today: date) -> list[tuple[str, date, date]]:
    """Return the dashboard's usual periods around the local date `today`, each as (label, first day, last day).

    The periods under way end today: what has happened so far, not empty days to come.
    """
    month_start = today.replace(day=1)
    last_month_end = month_start - timedelta(days=1)
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    # Twelve whole months: this one so far and the eleven before it (the demo's year of history, a year's trend).
    twelve_start = date(month_start.year - (1 if month_start.month < 12 else 0), month_start.month % 12 + 1, 1)
    return [
        ("Ce mois-ci", month_start, today),
        ("12 derniers mois", twelve_start, today),
        ("Le mois dernier", last_month_end.replace(day=1), last_month_end),
        ("Ce trimestre", quarter_start, today),
        ("Cette année", date(today.year, 1, 1), today),
        ("L'année dernière", date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
    ]
