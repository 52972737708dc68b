"""The report per profession (`by_profession`) and the acceptance time per distance band (`acceptance_by_distance`).

Cheap by construction, like the rest of the report: the request figures are one GROUP BY over the period's requests
(profession, state, accepted by the usual professional), along the index (community_id, opened_at); the offers and
refusals are the physicians' rollup summed per member's profession (a member is only ever offered requests of their
own profession). The times to accept need the durations themselves: one read of (profession, distance, delay) per
accepted request of the period — two numbers each, no request loaded — whose percentiles are interpolated as the
totals' are (`percentile_cont`).

Distance bands are those of the accepted offer's `distance_km` (the practice to the patient, as the crow flies,
stored when the offer was made): [0, 2), [2, 5), [5, 10), [10, 20), [20, ∞) km, and `unknown` (the patient or the
practice not placed, or the treating GP's exclusive offer, which is made to them whatever the distance).
"""

from __future__ import annotations

from datetime import date, datetime
from fractions import Fraction
from math import floor
from typing import Any

from sqlalchemy import and_, func, select

from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.reports.models import PhysicianDayStats
from dispatch.requests.models import Offer, Request
from dispatch.requests.states import OPEN_STATES, OUTCOMES, State

ACCEPTED_STATES = (State.ACCEPTED, *OUTCOMES)
PERCENTILES = {"median": Fraction(1, 2), "p90": Fraction(9, 10)}
MICROSECONDS = 1_000_000
# (key, from km included, to km excluded); the French labels are BAND_LABELS.
BANDS: tuple[tuple[str, float, float | None], ...] = (
    ("0-2", 0, 2),
    ("2-5", 2, 5),
    ("5-10", 5, 10),
    ("10-20", 10, 20),
    ("20+", 20, None),
)
UNKNOWN = "unknown"
BAND_KEYS = (*(key for key, _, _ in BANDS), UNKNOWN)
BAND_LABELS = {
    "0-2": "Moins de 2\u00a0km",
    "2-5": "De 2 à 5\u00a0km",
    "5-10": "De 5 à 10\u00a0km",
    "10-20": "De 10 à 20\u00a0km",
    "20+": "20\u00a0km et plus",
    UNKNOWN: "Distance inconnue",
}


def band_of(distance_km: float | None) -> str:
    """Return the distance band of an accepted offer's distance (None: unknown)."""
    if distance_km is None:
        return UNKNOWN
    for key, low, high in BANDS:
        if low <= distance_km and (high is None or distance_km < high):
            return key
    return UNKNOWN  # a negative distance is never stored


def percentiles(delays_us: list[int]) -> dict[str, int | None]:
    """Return the median and 90th percentile of durations in microseconds, in seconds, interpolated like
    percentile_cont and rounded half up (as the totals' `time_to_accept_s`); None for no duration."""
    if not delays_us:
        return dict.fromkeys(PERCENTILES)
    ordered = sorted(delays_us)
    out: dict[str, int | None] = {}
    for name, p in PERCENTILES.items():
        position = p * (len(ordered) - 1)
        low = floor(position)
        high = min(low + 1, len(ordered) - 1)
        exact = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
        out[name] = floor(exact / MICROSECONDS + Fraction(1, 2))
    return out


def _mean_s(delays_us: list[int]) -> int | None:
    return floor(Fraction(sum(delays_us), len(delays_us)) / MICROSECONDS + Fraction(1, 2)) if delays_us else None


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator > 0 else None


def _empty() -> dict[str, Any]:
    return {
        "opened": 0,
        "accepted": 0,
        "expired": 0,
        "cancelled": 0,
        "open": 0,
        "accepted_by_treating": 0,
        "outcomes": {"seen": 0, "no_show": 0, "pending": 0},
        "offered": 0,
        "refusals": 0,
    }


def profession_figures(*, community_id: int, lower: datetime, upper: datetime, start: date, end: date) -> dict[str, Any]:
    """Return the report's `by_profession` and `acceptance_by_distance` over the period (the durations read once)."""
    in_period = (Request.community_id == community_id, Request.opened_at >= lower, Request.opened_at < upper)
    delays = _delays(in_period)
    return {
        "by_profession": _by_profession(community_id, in_period, delays, start=start, end=end),
        "acceptance_by_distance": _by_distance(delays),
    }


Delays = list[tuple[str, float | None, int]]  # (profession, distance of the accepted offer, delay in µs)


def _by_profession(
    community_id: int, in_period: tuple[Any, ...], delays: Delays, *, start: date, end: date
) -> dict[str, dict[str, Any]]:
    """Return the report's figures per profession code, for the professions with a request or an offer in the period."""
    by_treating = and_(Request.accepted_by_id.is_not(None), Request.accepted_by_id == Request.treating_physician_id)
    counts = (
        select(Request.profession, Request.state, by_treating.label("by_treating"), func.count())
        .where(*in_period)
        .group_by(Request.profession, Request.state, by_treating)
    )
    figures: dict[str, dict[str, Any]] = {}
    for profession, state, treating, n in db.session.execute(counts):
        row = figures.setdefault(profession, _empty())
        n = int(n)
        row["opened"] += n
        if state in ACCEPTED_STATES:
            row["accepted"] += n
            row["accepted_by_treating"] += n if treating else 0
            row["outcomes"]["pending" if state == State.ACCEPTED else state] += n
        elif state in OPEN_STATES:
            row["open"] += n
        elif state in (State.EXPIRED, State.CANCELLED):
            row[state] += n
    stats = PhysicianDayStats
    offers = (
        select(Physician.profession, func.sum(stats.offered), func.sum(stats.refused))
        .join(Physician, Physician.id == stats.physician_id)
        .where(stats.community_id == community_id, stats.day >= start, stats.day <= end)
        .group_by(Physician.profession)
    )
    for profession, offered, refused in db.session.execute(offers):
        if offered or refused:
            row = figures.setdefault(profession, _empty())
            row["offered"], row["refusals"] = int(offered or 0), int(refused or 0)
    out: dict[str, dict[str, Any]] = {}
    for profession in sorted(figures):
        row = figures[profession]
        seen, no_show = row["outcomes"]["seen"], row["outcomes"]["no_show"]
        out[profession] = {
            **row,
            "acceptance_rate": _rate(row["accepted"], row["opened"] - row["cancelled"]),
            "accepted_in_community": row["accepted"] - row["accepted_by_treating"],
            "time_to_accept_s": percentiles([delay for who, _, delay in delays if who == profession]),
            "no_show_rate": _rate(no_show, seen + no_show),
        }
    return out


def _delays(in_period: tuple[Any, ...]) -> Delays:
    """Read (profession, distance of the accepted offer, delay in µs) for every accepted request of the period."""
    query = (
        select(Request.profession, Offer.distance_km, Request.accept_delay_us)
        .outerjoin(Offer, and_(Offer.request_id == Request.id, Offer.physician_id == Request.accepted_by_id))
        .where(*in_period, Request.accept_delay_us.is_not(None))
    )
    return [(profession, distance, int(delay or 0)) for profession, distance, delay in db.session.execute(query)]


def _by_distance(delays: Delays) -> list[dict[str, Any]]:
    """Return, per distance band (every band, in order), the acceptances of the period and their time to accept."""
    per_band: dict[str, list[int]] = {key: [] for key in BAND_KEYS}
    for _, distance, delay in delays:
        per_band[band_of(distance)].append(delay)
    return [
        {"band": key, "accepted": len(delays), **percentiles(delays), "mean": _mean_s(delays)} for key, delays in per_band.items()
    ]
