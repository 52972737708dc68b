"""The request's use cases: read a snapshot, ask the machine, write its decision, carry out its effects.

Nothing here decides: states, deadlines, events and side effects all come from `machine`. Every write of a
request is conditional on the version it read (the mapper's version column), so a decision taken on a stale
read fails with StaleDataError; the use case then reads again and asks the machine again.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm.exc import StaleDataError

from dispatch.auth.models import User
from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.events import SYSTEM, Actor, record_event
from dispatch.requests import effects, machine
from dispatch.requests.machine import ActorOffer, Decision, Plan, Refusal, Snapshot
from dispatch.requests.models import Offer, Request

__all__ = [
    "SYSTEM",
    "Actor",
    "Rejected",
    "accept",
    "advance_due",
    "cancel",
    "open_request",
    "call_back",
    "record_outcome",
    "refuse",
    "relaunch",
    "release",
    "treating_gone",
    "offers_gone",
]

RETRIES = 3  # a decision taken on a stale read is taken again, at most this many times


class Rejected(Exception):
    """The machine refused the action; `code` is the API's error code."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.code = refusal.value


# The acting physician's offer of a request: its status and phase (a snapshot's `actor_offer`).
_ACTOR_OFFER = select(Offer.status, Offer.phase).where(
    Offer.request_id == bindparam("request_id"), Offer.physician_id == bindparam("physician_id")
)


def treating_address(request: Request) -> str | None:
    """Return the MSSanté address of the request's treating GP, member or not."""
    if request.treating_physician_id is not None:
        physician = db.session.get(Physician, request.treating_physician_id)
        if physician is not None and physician.mssante:
            return physician.mssante
    return request.treating_mssante


def snapshot(
    request: Request | Any, *, physician_id: int | None = None, offer: ActorOffer | None = None, with_treating_address: bool = False
) -> Snapshot:
    """Return what the machine needs of a request (a row or a light read with the same columns).

    With `physician_id`, the actor's offer is read too (unless given as `offer`).
    """
    if physician_id is not None and offer is None:
        row = db.session.execute(_ACTOR_OFFER, {"request_id": request.id, "physician_id": physician_id}).first()
        offer = ActorOffer(row.status, row.phase) if row is not None else None
    return Snapshot(
        state=request.state,
        exclusive_until=request.exclusive_until,
        expires_at=request.expires_at,
        treating_physician_id=request.treating_physician_id,
        accepted_by_id=request.accepted_by_id,
        opened_at=request.opened_at,
        community_at=request.community_at,
        outside_treating_reachable=bool(request.treating_mssante),
        patient_reachable=bool(request.patient_phone),
        actor_offer=offer,
        treating_address=treating_address(request) if with_treating_address else None,
        appointment_at=getattr(request, "appointment_at", None),
        releases=getattr(request, "releases", 0) or 0,
        called_back=getattr(request, "callback_result", None) is not None,
        birth_date_known=getattr(request, "patient_birth_date", None) is not None,
    )


def _write(request: Request, decision: Decision, *, now: datetime, actor: Actor, batch: effects.Batch | None = None) -> None:
    """Write a decision on `request` in the caller's transaction: its columns, its events, its effects.

    Without a batch, the request's conditional UPDATE is sent first (raising StaleDataError when another writer
    got there first), so that nothing else is written for a decision that lost.
    """
    for name, value in decision.columns().items():
        setattr(request, name, value)
    if batch is None:
        db.session.flush()
    for spec in decision.events:
        record_event(request.id, type=spec.type, at=now, actor=actor, data=spec.data)
    effects.carry_out(request, decision.effects, now=now, batch=batch)


def treating_eligible(physician: Physician | None, community_id: int, *, now: datetime) -> bool:
    """Say whether a treating GP gets the exclusive phase: a member, active and available."""
    if physician is None or not physician.is_available(now):
        return False
    return any(m.community_id == community_id and m.role == "physician" for m in physician.user.memberships)


def open_request(
    *,
    community: Community,
    fields: dict[str, Any],
    treating: Physician | None,
    directory_id: int | None,
    opened_by: User,
    now: datetime,
    actor: Actor,
    idempotency_key: str | None = None,
    notes: tuple[tuple[str, dict[str, Any]], ...] = (),
) -> Request:
    """Open a request, offer it to the treating GP alone or to the community, and commit.

    `notes` are events of the opening itself (type, data), written on the request's trail after the machine's own.
    """
    plan = Plan(exclusive_s=community.exclusive_window_s, response_s=community.response_window_s)
    decision = machine.open_request(now=now, plan=plan, treating_eligible=treating_eligible(treating, community.id, now=now))
    request = Request(
        community=community,
        community_id=community.id,
        opened_by_id=opened_by.id,
        idempotency_key=idempotency_key,
        treating_physician_id=treating.id if treating else None,
        treating_directory_id=directory_id,
        plan_exclusive_s=plan.exclusive_s,
        plan_response_s=plan.response_s,
        **fields,
    )
    db.session.add(request)
    _write(request, decision, now=now, actor=actor)
    for type_, data in notes:
        record_event(request.id, type=type_, at=now, actor=actor, data=data)
    db.session.commit()
    return request


_DUE = select(Request).where(Request.next_deadline <= bindparam("now")).order_by(Request.next_deadline)


def advance_due(*, now: datetime, limit: int = 500) -> int:
    """Advance up to `limit` requests whose deadline has passed, in one transaction; return how many moved.

    On PostgreSQL the due rows are locked (SKIP LOCKED: a request being accepted right now is left to the
    next tick); on SQLite a request changed since it was read makes the batch start again.
    """
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
                    _write(request, decision, now=now, actor=SYSTEM, batch=batch)
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


def _decide_and_write(
    request: Request,
    decide: Any,
    *,
    now: datetime,
    actor: Actor,
    physician_id: int | None = None,
    refresh_on_refusal: bool = False,
    with_treating_address: bool = False,
) -> Request:
    """Ask the machine (`decide(snapshot)`), write its decision and commit; again on a stale read."""
    for attempt in range(RETRIES):
        decision = decide(snapshot(request, physician_id=physician_id, with_treating_address=with_treating_address))
        if isinstance(decision, Refusal) and refresh_on_refusal and attempt == 0:
            # The request may have moved since the caller read it (a winner committed): decide on what is.
            db.session.refresh(request)
            decision = decide(snapshot(request, physician_id=physician_id))
        if isinstance(decision, Refusal):
            raise Rejected(decision)
        if not decision.changes:
            return request  # repeated by the same physician: harmless
        try:
            _write(request, decision, now=now, actor=actor)
            db.session.commit()
            return request
        except (StaleDataError, effects.Stale):
            db.session.rollback()
            fresh = db.session.get(Request, request.id, populate_existing=True)
            if fresh is None:
                raise Rejected(Refusal.CLOSED) from None
            request = fresh
    raise Rejected(Refusal.CLOSED)


def accept(
    *, request: Request, physician: Physician, appointment_at: datetime, place: str | None, now: datetime, actor: Actor
) -> Request:
    """Take the request for `physician`, exactly once, and commit."""
    return _decide_and_write(
        request,
        lambda shot: machine.accept(
            shot, physician_id=physician.id, now=now, appointment_at=appointment_at, place=place or physician.address
        ),
        now=now,
        actor=actor,
        physician_id=physician.id,
        refresh_on_refusal=True,
    )


def accept_verdict(row: Any, *, physician_id: int, now: datetime) -> Refusal | None:
    """Return the machine's refusal of an acceptance from a light read (`requests.queries.ACCEPT_SEEN`), or None."""
    offer = ActorOffer(row.offer_status, row.offer_phase) if row.offer_status is not None else None
    # The light read has no appointment yet: a placeholder (the decision itself is taken again on the request).
    verdict = machine.accept(snapshot(row, offer=offer), physician_id=physician_id, now=now, appointment_at=now, place=None)
    return verdict if isinstance(verdict, Refusal) else None


def refuse(*, request: Request, physician: Physician, reason: str | None, now: datetime, actor: Actor) -> Request:
    """Record a physician's refusal; the treating GP's opens the community at once."""
    return _decide_and_write(
        request,
        lambda shot: machine.refuse(shot, physician_id=physician.id, now=now, reason=reason),
        now=now,
        actor=actor,
        physician_id=physician.id,
    )


def cancel(*, request: Request, reason: str, now: datetime, actor: Actor) -> Request:
    """Cancel an open request and clear it from every phone."""
    return _decide_and_write(request, lambda shot: machine.cancel(shot, now=now, reason=reason), now=now, actor=actor)


def record_outcome(
    *,
    request: Request,
    physician: Physician,
    outcome: str,
    synthesis: str | None,
    now: datetime,
    actor: Actor,
    birth_date: date | None = None,
) -> Request:
    """Record that the patient was seen (with a synthesis for the treating GP) or did not come.

    `birth_date` completes a request opened without the patient's (Rejected `birth_date_required` when a synthesis
    is to be sent and it is still unknown).
    """
    return _decide_and_write(
        request,
        lambda shot: machine.record_outcome(
            shot, physician_id=physician.id, outcome=outcome, synthesis=synthesis, now=now, birth_date=birth_date
        ),
        now=now,
        actor=actor,
        with_treating_address=outcome == "seen",
    )


def birth_date_needed(*, request: Request, physician: Physician) -> bool:
    """Say whether seeing this patient needs their birth date first (a synthesis to send, none known): pages ask for it."""
    return machine.birth_date_needed(snapshot(request, with_treating_address=True), physician_id=physician.id)


# The requests held for a treating GP alone: what a deactivation of their account must release at once.
_HELD_FOR = select(Request.id).where(Request.state == "exclusive", Request.treating_physician_id == bindparam("physician_id"))


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
        if request is None or request.state != "exclusive":
            continue
        try:
            _decide_and_write(
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
    .where(Request.state == "community", Offer.physician_id == bindparam("physician_id"), Offer.status == "notified")
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
            _decide_and_write(
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


def release(*, request: Request, physician: Physician, reason: str, now: datetime, actor: Actor) -> Request:
    """Hand the patient back before the appointment: the request is offered to the community again."""
    return _decide_and_write(
        request,
        lambda shot: machine.release(shot, physician_id=physician.id, now=now, reason=reason),
        now=now,
        actor=actor,
    )


def call_back(*, request: Request, operator: User, result: str, note: str | None, now: datetime, actor: Actor) -> Request:
    """Record the result of calling back an expired request's patient: every console drops its banner."""
    return _decide_and_write(
        request,
        lambda shot: machine.call_back(shot, operator_id=operator.id, result=result, note=note, now=now),
        now=now,
        actor=actor,
    )


# What a relaunch copies of the request it follows: the patient, the motive, the treating GP as named then.
RELAUNCH_COPIES = (
    "source",
    "motive",
    "description",
    "patient_first_name",
    "patient_last_name",
    "patient_birth_date",
    "patient_sex",
    "patient_phone",
    "patient_postcode",
    "patient_city",
    "treating_status",
    "treating_rpps",
    "treating_name",
    "treating_mssante",
)


def relaunch(*, request: Request, opened_by: User, now: datetime, actor: Actor) -> Request:
    """Open a new request for the same patient and motive, with fresh windows (the treating GP first if registered).

    An expired request not yet called back is recorded as called back with the result `relaunched`.
    """
    refusal = machine.relaunchable(snapshot(request))
    if refusal is not None:
        raise Rejected(refusal)
    treating = db.session.get(Physician, request.treating_physician_id) if request.treating_physician_id else None
    fields = {name: getattr(request, name) for name in RELAUNCH_COPIES} | {"relaunch_of_id": request.id}
    original_id = request.id
    community = db.session.get(Community, request.community_id)
    assert community is not None
    new = open_request(
        community=community,
        fields=fields,
        treating=treating,
        directory_id=request.treating_directory_id,
        opened_by=opened_by,
        now=now,
        actor=actor,
        notes=(("relaunch_of", {"request_id": original_id}),),
    )
    original = db.session.get(Request, original_id)
    assert original is not None
    record_event(original.id, type="relaunched", at=now, actor=actor, data={"request_id": new.id})
    db.session.commit()
    if original.state == "expired" and original.callback_result is None:
        call_back(request=original, operator=opened_by, result="relaunched", note=None, now=now, actor=actor)
    return new
