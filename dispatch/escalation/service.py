"""Use cases of a request's life: open, advance, accept, refuse, cancel, record the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from dispatch.auth.models import User
from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.escalation import effects, machine
from dispatch.escalation.machine import Decision, Plan, Refusal, Snapshot
from dispatch.escalation.models import Event, Offer, Request
from dispatch.reports import rollup


@dataclass(frozen=True)
class Actor:
    """Who acts, and from which client, for the audit trail."""

    user_id: int | None
    role: str | None
    client: str | None = None


SYSTEM = Actor(user_id=None, role="system", client="tick")


class Rejected(Exception):
    """The machine refused the action; `code` is the API's error code."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.code = refusal.value


def snapshot(request: Request) -> Snapshot:
    """Return what the machine needs of a request."""
    return Snapshot(state=request.state, exclusive_until=request.exclusive_until, expires_at=request.expires_at,
                    treating_physician_id=request.treating_physician_id, accepted_by_id=request.accepted_by_id)


def record_event(request_id: int, *, type: str, at: datetime, actor: Actor, data: dict[str, Any] | None = None) -> None:
    """Append an event to a request's trail."""
    db.session.add(Event(request_id=request_id, at=at, type=type, actor_id=actor.user_id, actor_role=actor.role,
                         client=actor.client, data=data or {}))


def _apply(request: Request, decision: Decision, *, now: datetime, values: dict[str, Any] | None = None,
           rollback: bool = True) -> bool:
    """Write a decision with a conditional update; False when another writer got there first."""
    changes = {"state": decision.state, "exclusive_until": decision.exclusive_until,
               "expires_at": decision.expires_at, "next_deadline": decision.next_deadline,
               "version": request.version + 1, **(values or {})}
    if decision.state == "community" and request.community_at is None:
        changes["community_at"] = now
    if decision.state in machine.CLOSED_STATES and request.closed_at is None:
        changes["closed_at"] = now
    zone = request.community.timezone
    before = rollup.request_key(request, zone)
    result = db.session.execute(_conditional_update(frozenset(changes)),
                                {"id_": request.id, "version_": request.version,
                                 **{f"set_{key}": value for key, value in changes.items()}})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if rollback:
            db.session.rollback()
        return False
    for key, value in changes.items():
        set_committed_value(request, key, value)
    rollup.move_request(before, rollup.request_key(request, zone))
    return True


_UPDATES: dict[frozenset[str], Any] = {}


def _conditional_update(columns: frozenset[str]) -> Any:
    """Return UPDATE requests SET <columns> WHERE id and version match, built once per set of columns."""
    statement = _UPDATES.get(columns)
    if statement is None:
        table = Request.__table__
        statement = (update(Request)
                     .where(Request.id == bindparam("id_"), Request.version == bindparam("version_"))
                     .values({name: bindparam(f"set_{name}", type_=table.c[name].type) for name in sorted(columns)})
                     .execution_options(synchronize_session=False))
        _UPDATES[columns] = statement
    return statement


def treating_eligible(physician: Physician | None, community_id: int, *, now: datetime) -> bool:
    """Say whether a treating GP gets the exclusive phase: a member, active and available."""
    if physician is None or not physician.is_available(now):
        return False
    return any(m.community_id == community_id and m.role == "physician" for m in physician.user.memberships)


def open_request(*, community: Community, fields: dict[str, Any], treating: Physician | None,
                 directory_id: int | None, opened_by: User, now: datetime, actor: Actor,
                 idempotency_key: str | None = None) -> Request:
    """Open a request, offer it to the treating GP alone or to the community, and commit."""
    plan = Plan(exclusive_s=community.exclusive_window_s, response_s=community.response_window_s)
    decision = machine.open_request(now=now, plan=plan,
                                    treating_eligible=treating_eligible(treating, community.id, now=now))
    request = Request(community_id=community.id, opened_by_id=opened_by.id, idempotency_key=idempotency_key,
                      treating_physician_id=treating.id if treating else None, treating_directory_id=directory_id,
                      plan_exclusive_s=plan.exclusive_s, plan_response_s=plan.response_s, opened_at=now,
                      state=decision.state, exclusive_until=decision.exclusive_until, expires_at=decision.expires_at,
                      next_deadline=decision.next_deadline, community_at=now if decision.state == "community" else None,
                      **fields)
    db.session.add(request)
    db.session.flush()
    rollup.move_request(None, rollup.request_key(request, community.timezone))
    record_event(request.id, type="opened", at=now, actor=actor,
                 data={"state": decision.state, "exclusive_until": _iso(decision.exclusive_until),
                       "expires_at": _iso(decision.expires_at), "plan": {"exclusive_s": plan.exclusive_s,
                                                                         "response_s": plan.response_s}})
    effects.carry_out(request, decision.effects, now=now, reason=None)
    db.session.commit()
    return request


def advance_due(*, now: datetime, limit: int = 500) -> int:
    """Advance up to `limit` requests whose deadline has passed, in one transaction; return how many moved."""
    moved = 0
    query = select(Request).where(Request.next_deadline <= now).order_by(Request.next_deadline).limit(limit)
    requests = list(db.session.scalars(query).unique())
    if not requests:
        return 0
    batch = effects.Batch(requests, now=now)
    with db.session.no_autoflush:  # the batch's events are written together, at commit
        for request in requests:
            decision = machine.advance(snapshot(request), now=now)
            # A request accepted or cancelled meanwhile fails its conditional update: nothing to do for it.
            if decision is None or not _apply(request, decision, now=now, rollback=False):
                continue
            record_event(request.id, type=decision.event, at=now, actor=SYSTEM,
                         data={"deadline": _iso(request.expires_at if decision.state == "expired"
                                                else request.exclusive_until)})
            effects.carry_out(request, decision.effects, now=now, reason="expired", batch=batch)
            moved += 1
        batch.flush()
    db.session.commit()
    return moved


def next_deadline_after(*, now: datetime) -> datetime | None:
    """Return the earliest deadline still to come, for a tick that wants to be on time."""
    return db.session.scalar(select(func.min(Request.next_deadline)).where(Request.next_deadline > now))


def accept(*, request: Request, physician: Physician, appointment_at: datetime, place: str | None,
           now: datetime, actor: Actor) -> Request:
    """Take the request for `physician`, exactly once, and commit."""
    if request.accepted_by_id == physician.id:
        return request  # accepting twice is harmless
    decision = machine.accept(snapshot(request), physician_id=physician.id, now=now,
                              treating_registered=request.treating_physician_id is not None)
    if isinstance(decision, Refusal):
        raise Rejected(decision)
    offer = _offer(request.id, physician.id)
    if offer is None or offer.status not in ("notified", "refused"):
        # The offer may have been withdrawn by a winner who committed since we read the request.
        db.session.refresh(request)
        late = machine.accept(snapshot(request), physician_id=physician.id, now=now, treating_registered=True)
        raise Rejected(late if isinstance(late, Refusal) else Refusal.NOT_ELIGIBLE)
    phase = "exclusive" if physician.id == request.treating_physician_id and request.state == "exclusive" \
        else request.state
    values = {"accepted_by_id": physician.id, "accepted_at": now, "accepted_phase": phase,
              "appointment_at": appointment_at, "place": place or physician.address,
              "accept_delay_us": rollup.delay_us(request.opened_at, now)}
    if not _apply(request, decision, now=now, values=values):
        fresh = db.session.get(Request, request.id)
        if fresh is not None and fresh.accepted_by_id == physician.id:
            return fresh
        refusal = machine.accept(snapshot(fresh), physician_id=physician.id, now=now, treating_registered=True) \
            if fresh is not None else Refusal.CLOSED
        raise Rejected(refusal if isinstance(refusal, Refusal) else Refusal.ALREADY_ACCEPTED)
    # The request is ours now, so only this physician could still change their offer: write it from the
    # status read above, and read it again under a lock in the rare case they refused meanwhile.
    previous = offer.status
    if not _answer_offer(offer, previous=previous, status="accepted", now=now):
        offer = _offer(request.id, physician.id, lock=True)
        assert offer is not None
        previous = offer.status
        offer.status, offer.responded_at = "accepted", now
    rollup.count_answer(community_id=request.community_id, physician_id=physician.id, answer="accepted",
                        previous=previous, day=rollup.local_day(request.opened_at, request.community.timezone))
    record_event(request.id, type="accepted", at=now, actor=actor,
                 data={"physician_id": physician.id, "phase": phase, "appointment_at": _iso(appointment_at),
                       "place": request.place})
    effects.carry_out(request, decision.effects, now=now, reason="accepted")
    db.session.commit()
    return request


def refuse(*, request: Request, physician: Physician, reason: str | None, now: datetime, actor: Actor) -> Request:
    """Record a physician's refusal; the treating GP's opens the community at once."""
    offer = _offer(request.id, physician.id)
    decision = machine.refuse(snapshot(request), physician_id=physician.id, now=now)
    if isinstance(decision, Refusal):
        raise Rejected(decision)
    if offer is None or offer.status != "notified":
        if offer is not None and offer.status == "refused":
            return request  # refusing twice is harmless
        raise Rejected(Refusal.NOT_ELIGIBLE)
    opens_community = decision.state != request.state
    if opens_community and not _apply(request, decision, now=now):
        raise Rejected(Refusal.CLOSED)
    offer = _offer(request.id, physician.id, lock=True)
    if offer is None or offer.status != "notified":  # answered meanwhile, by a concurrent call
        db.session.rollback()
        raise Rejected(Refusal.NOT_ELIGIBLE)
    rollup.count_answer(community_id=request.community_id, physician_id=physician.id, answer="refused",
                        previous=offer.status, day=rollup.local_day(request.opened_at, request.community.timezone))
    offer.status, offer.responded_at, offer.reason = "refused", now, reason
    record_event(request.id, type="refused", at=now, actor=actor,
                 data={"physician_id": physician.id, "reason": reason, "phase": offer.phase})
    if opens_community:
        record_event(request.id, type="community_opened", at=now, actor=actor, data={"after": "treating_refused"})
    effects.carry_out(request, decision.effects, now=now, reason=None)
    db.session.commit()
    return request


def cancel(*, request: Request, reason: str, now: datetime, actor: Actor) -> Request:
    """Cancel an open request and clear it from every phone."""
    decision = machine.cancel(snapshot(request))
    if isinstance(decision, Refusal) or not _apply(request, decision, now=now, values={"cancel_reason": reason}):
        raise Rejected(Refusal.CLOSED)
    record_event(request.id, type="cancelled", at=now, actor=actor, data={"reason": reason})
    effects.carry_out(request, decision.effects, now=now, reason="cancelled")
    db.session.commit()
    return request


def record_outcome(*, request: Request, physician: Physician, outcome: str, synthesis: str | None,
                   now: datetime, actor: Actor) -> Request:
    """Record that the patient was seen (with a synthesis for the treating GP) or did not come."""
    decision = machine.record_outcome(snapshot(request), physician_id=physician.id, outcome=outcome)
    if isinstance(decision, Refusal):
        raise Rejected(decision)
    if not _apply(request, decision, now=now, values={"outcome": outcome, "outcome_at": now}):
        raise Rejected(Refusal.ALREADY_RECORDED)
    record_event(request.id, type=outcome, at=now, actor=actor, data={"physician_id": physician.id})
    if outcome == "seen":
        from dispatch.synthesis.service import store_synthesis  # synthesis builds on requests

        store_synthesis(request=request, physician=physician, text=synthesis or "", now=now, actor=actor)
    db.session.commit()
    return request


def _answer_offer(offer: Offer, *, previous: str, status: str, now: datetime) -> bool:
    """Set an offer's answer if its status is still `previous`, in one statement; False otherwise."""
    result = db.session.execute(update(Offer).where(Offer.id == offer.id, Offer.status == previous)
                                .values(status=status, responded_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    set_committed_value(offer, "status", status)
    set_committed_value(offer, "responded_at", now)
    return True


_OFFER = select(Offer).where(Offer.request_id == bindparam("request_id"), Offer.physician_id == bindparam("physician_id"))
# The row as committed now, held until commit: its answer and the rollup's move together.
_OFFER_LOCKED = _OFFER.with_for_update().execution_options(populate_existing=True)


def _offer(request_id: int, physician_id: int, *, lock: bool = False) -> Offer | None:
    return db.session.scalar(_OFFER_LOCKED if lock else _OFFER, {"request_id": request_id,
                                                                 "physician_id": physician_id})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
