"""The machine's floating slots: how many more requests a member said they would take, and until when.

A member declares "I can take N more until HH:MM" (`capacity`, `capacity_until`) at `capacity_from`. The requests
they accepted since `capacity_from` count against it — not every acceptance of the window: "N more" is said
knowing what one already holds, so what was taken before the declaration is not taken off again. A request
handed back no longer counts (its acceptance is undone: `accepted_by_id` goes back to None), so the member is
offered requests again. When `capacity_until` passes the capacity is gone, whatever was accepted.

`offer_store`'s eligibility query asks the same in SQL (`room_clause`), for every audience (first offers, the
community phase, waves, re-offers after a hand-back); the treating GP's exclusive phase asks it too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

CAPACITY_AHEAD = timedelta(hours=24)  # `until` is after `now`, 24 hours ahead at most (the same day, or the night)


def in_force(*, capacity: int | None, until: datetime | None, now: datetime) -> bool:
    """Say whether a declared capacity still holds at `now` (it lapses at `until`, that instant included)."""
    return capacity is not None and until is not None and now < until


def left(*, capacity: int | None, until: datetime | None, accepted: int, now: datetime) -> int | None:
    """Return how many more requests the member takes before `until` (0: full), or None with no capacity in force."""
    if not in_force(capacity=capacity, until=until, now=now):
        return None
    assert capacity is not None
    return max(0, capacity - accepted)


def until_refusal(until: datetime, *, now: datetime) -> str | None:
    """Say in French why a capacity cannot run until `until` (passed, or more than 24 h ahead), or None."""
    if until <= now:
        return "L'heure de fin doit être à venir."
    if until > now + CAPACITY_AHEAD:
        return "L'heure de fin doit être dans les 24 heures."
    return None
