"""Use cases of a member's floating slot: declare "I can take N more until HH:MM", remove it, and say where it stands.

The rule (what counts, when it lapses) is `machine.capacity`'s; who gets offers is `offer_store`'s (its eligibility
query skips a member whose slot is full). These use cases only keep the declaration and count what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.requests.machine import capacity as rule
from dispatch.requests.models import Request


@dataclass(frozen=True)
class Capacity:
    """Where a member's floating slot stands at one instant: all None when there is none (or it lapsed)."""

    capacity: int | None
    until: datetime | None
    left: int | None

    @property
    def full(self) -> bool:
        return self.left == 0


NONE = Capacity(None, None, None)


def capacity_of(*, physician: Physician, now: datetime) -> Capacity:
    """Return the member's floating slot at `now`: how many they said, until when, and how many are left."""
    if not rule.in_force(capacity=physician.capacity, until=physician.capacity_until, now=now):
        return NONE
    accepted = db.session.scalar(
        select(func.count())
        .select_from(Request)
        .where(Request.accepted_by_id == physician.id, Request.accepted_at >= physician.capacity_from)
    )
    left = rule.left(capacity=physician.capacity, until=physician.capacity_until, accepted=int(accepted or 0), now=now)
    return Capacity(physician.capacity, physician.capacity_until, left)


def declare_capacity(*, physician: Physician, capacity: int, until: datetime, now: datetime) -> Capacity:
    """Declare that the member takes `capacity` more requests until `until`, and switch them on (commit).

    `until` must be ahead, within 24 hours (422 otherwise). Declaring says "I take requests": the availability
    switch goes on, for good.
    """
    refusal = rule.until_refusal(until, now=now)
    if refusal is not None:
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors={"until": [refusal]})
    physician.capacity, physician.capacity_from, physician.capacity_until = capacity, now, until
    physician.available, physician.available_until = True, None
    db.session.commit()
    return Capacity(capacity, until, capacity)


def remove_capacity(*, physician: Physician) -> Capacity:
    """Remove the member's floating slot: offers reach them again as their availability says (commit)."""
    physician.capacity = physician.capacity_from = physician.capacity_until = None
    db.session.commit()
    return NONE
