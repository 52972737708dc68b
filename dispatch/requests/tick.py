"""What moves requests without a user: the tick past their deadlines, and a physician's leaving.

Each decides with the machine and writes through `engine`, as a user's action does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm.exc import StaleDataError

from dispatch import maintenance
from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.events import SYSTEM
from dispatch.requests import effects, machine
from dispatch.requests.engine import RETRIES, Rejected, decide_and_write, snapshot, write
from dispatch.requests.models import Offer, Request
from dispatch.requests.states import OfferStatus, State

_DUE = select(Request).where(Request.next_deadline <= bindparam("now")).order_by(Request.next_deadline)


def advance_due(*, now: datetime, limit: int = 500) -> int:
    """Advance up to `limit` requests whose deadline has passed, in one transaction; return how many moved.

    On PostgreSQL the due rows are locked (SKIP LOCKED: a request being accepted right now is left to the
    next tick); on SQLite a request changed since it was read makes the batch start again. During a maintenance
    nothing moves: no deadline passes while the service is stopped (its end gives each request the time back).
    """
    if maintenance.current() is not None:
        db.session.rollback()  # end the read's transaction: the tick holds nothing while it waits
        return 0
    query = _DUE.limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Request)
    for _ in range(RETRIES):
        requests = list(db.session.scalars(query, {"now": now}).unique())
        if not requests:
            return 0
        moved = 0
        batch = effects.Batch(requests, now=now)
        try:
            with db.session.no_autoflush:  # the batch's rows are written together, at commit
                for request in requests:
                    decision = machine.advance(snapshot(request), now=now)
                    if decision is None:
                        continue
                    write(request, decision, now=now, actor=SYSTEM, batch=batch)
                    moved += 1
                batch.flush()
            db.session.commit()
            return moved
        except StaleDataError:
            db.session.rollback()  # accepted or cancelled meanwhile: read the batch again
    return 0


def next_deadline_after(*, now: datetime) -> datetime | None:
    """Return the earliest deadline still to come, for a tick that wants to be on time."""
    return db.session.scalar(select(func.min(Request.next_deadline)).where(Request.next_deadline > now))


# The requests held for a treating GP alone: what a deactivation of their account must release at once.
_HELD_FOR = select(Request.id).where(Request.state == State.EXCLUSIVE, Request.treating_physician_id == bindparam("physician_id"))


def treating_gone(*, user_id: int, now: datetime) -> int:
    """Open to the whole community every request held in its exclusive phase for this physician, who left; return how many.

    Called once their deactivation is committed (communities' after-deactivation hook); each request in a transaction
    of its own, decided again on a stale read (an acceptance committed meanwhile leaves it alone).
    """
    physician = db.session.scalar(select(Physician).where(Physician.user_id == user_id))
    if physician is None:
        return 0
    moved = 0
    for request_id in db.session.scalars(_HELD_FOR, {"physician_id": physician.id}).all():
        request = db.session.get(Request, request_id)
        if request is None or request.state != State.EXCLUSIVE:
            continue
        try:
            decide_and_write(
                request, lambda shot: machine.treating_unavailable(shot, now=now) or machine.Refusal.CLOSED, now=now, actor=SYSTEM
            )
        except Rejected:
            continue  # accepted, cancelled or expired meanwhile: nothing held any more
        moved += 1
    return moved


# The requests of the community phase with a pending offer to a physician: what their deactivation withdraws.
_OFFERED_TO = (
    select(Offer.request_id)
    .join(Request, Request.id == Offer.request_id)
    .where(Request.state == State.COMMUNITY, Offer.physician_id == bindparam("physician_id"), Offer.status == OfferStatus.NOTIFIED)
    .order_by(Offer.request_id)
)


def offers_gone(*, user_id: int, now: datetime) -> int:
    """Withdraw from this physician, who left, every pending offer of a request in its community phase; return how many.

    Called once their deactivation is committed (communities' after-deactivation hook), after `treating_gone`; the
    requests stay open to everyone else. Each request in a transaction of its own, decided again on a stale read.
    """
    physician = db.session.scalar(select(Physician).where(Physician.user_id == user_id))
    if physician is None:
        return 0
    physician_id, withdrawn = physician.id, 0
    for request_id in db.session.scalars(_OFFERED_TO, {"physician_id": physician_id}).all():
        request = db.session.get(Request, request_id)
        if request is None:
            continue
        try:
            decide_and_write(
                request,
                lambda shot: machine.physician_unavailable(shot, physician_id=physician_id, now=now) or machine.Refusal.CLOSED,
                now=now,
                actor=SYSTEM,
                physician_id=physician_id,
            )
        except Rejected:
            continue  # taken, cancelled or expired meanwhile: the winner's withdrawal cleared the phone already
        withdrawn += 1
    return withdrawn
