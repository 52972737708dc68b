"""How long the period's accepted requests waited before a physician took them, in the buckets staff read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select

from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.french import NBSP
from dispatch.periods import utc_bounds
from dispatch.requests.models import Request

# Upper bounds in seconds (excluded) and labels; the last bucket has no bound.
BUCKETS: tuple[tuple[int | None, str], ...] = (
    (300, f"< 5{NBSP}min"),
    (900, f"5–15{NBSP}min"),
    (1800, f"15–30{NBSP}min"),
    (3600, f"30{NBSP}min–1{NBSP}h"),
    (7200, f"1–2{NBSP}h"),
    (None, f"> 2{NBSP}h"),
)


def bucket_counts(seconds: Sequence[float]) -> list[tuple[str, int]]:
    """Count times to accept (in seconds) into BUCKETS, every bucket listed."""
    counts = [0] * len(BUCKETS)
    for value in seconds:
        for index, (limit, _label) in enumerate(BUCKETS):
            if limit is None or value < limit:
                counts[index] += 1
                break
    return [(label, counts[index]) for index, (_limit, label) in enumerate(BUCKETS)]


def delay_buckets(*, community: Community, start: date, end: date) -> list[tuple[str, int]]:
    """Return how many requests opened in the local days `start` to `end` were accepted within each bucket."""
    lower, upper = utc_bounds(start, end, community.timezone)
    delays = db.session.scalars(
        select(Request.accept_delay_us).where(
            Request.community_id == community.id,
            Request.accept_delay_us.is_not(None),
            Request.opened_at >= lower,
            Request.opened_at < upper,
        )
    )
    return bucket_counts([microseconds / 1_000_000 for microseconds in delays if microseconds is not None])
