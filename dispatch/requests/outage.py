"""After the service stopped (a maintenance, an outage, a restore): every open request gets back the time it lost.

`end_maintenance` ends the maintenance and moves each open request's deadlines by the time lost, each through the
machine (`machine.postpone`) and the request's version like every other transition, in one transaction with the
end of the maintenance: either every request moved and the maintenance is over, or nothing changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm.exc import StaleDataError

from dispatch import maintenance
from dispatch.db import db
from dispatch.events import Actor
from dispatch.requests import effects, machine
from dispatch.requests.engine import RETRIES, snapshot, write
from dispatch.requests.models import Request
from dispatch.requests.states import OPEN_STATES

MAINTENANCE = Actor(user_id=None, role="system", client="maintenance")
REASON = "maintenance"

# The open requests that were open when the time was lost began (one opened since lost nothing).
_OPEN_SINCE = select(Request).where(Request.state.in_(OPEN_STATES), Request.opened_at <= bindparam("since")).order_by(Request.id)


class NotInMaintenance(Exception):
    """No maintenance is in progress, and no start of the outage was given."""


class SinceInFuture(Exception):
    """The outage's start given is after now."""


@dataclass(frozen=True)
class Ended:
    """What ending a maintenance did: when the lost time began, how long it lasted, how many requests moved."""

    since: datetime
    by: timedelta
    moved: int
    was_on: bool


def lost(since: datetime, now: datetime) -> timedelta:
    """Return the time lost from `since` to `now`, in whole seconds rounded up: a request never gets less back."""
    return timedelta(seconds=max(0, math.ceil((now - since).total_seconds())))


def end_maintenance(*, now: datetime, since: datetime | None = None) -> Ended:
    """End the maintenance and give every open request the time lost back; commit.

    The time lost runs from the maintenance's start, or from `since` when given (the outage began before the
    maintenance was started, or no maintenance was started at all: after a restore). NotInMaintenance when there is
    neither.
    """
    if since is not None and since > now:
        raise SinceInFuture()
    for _ in range(RETRIES):
        state = maintenance.current()
        # The row is deleted first: a second `end` at the same time waits on it, then finds nothing to end.
        was_on = maintenance.clear()
        if state is None or not was_on:
            if since is None:
                db.session.rollback()
                raise NotInMaintenance()
            was_on = False
        start = since if since is not None else state.started_at  # type: ignore[union-attr]
        by = lost(start, now)
        try:
            moved = _postpone_all(start=start, by=by, now=now)
            db.session.commit()
        except (StaleDataError, effects.Stale):
            db.session.rollback()  # a request moved meanwhile (accepted, expired): take them all again
            continue
        maintenance.forget()
        return Ended(since=start, by=by, moved=moved, was_on=was_on)
    raise StaleDataError("the open requests kept changing while their deadlines were being moved")


def _postpone_all(*, start: datetime, by: timedelta, now: datetime) -> int:
    """Move the deadlines of every request open since `start` by `by`, in the caller's transaction."""
    moved = 0
    if by <= timedelta(0):
        return 0
    for request in db.session.scalars(_OPEN_SINCE, {"since": start}).all():
        decision = machine.postpone(snapshot(request), by=by, reason=REASON)
        if decision is None:
            continue
        write(request, decision, now=now, actor=MAINTENANCE)  # conditional on the request's version
        moved += 1
    return moved
