"""The machine's decisions on a request's own life: how it opens, moves past its deadlines, is cancelled, loses a
physician who left, is called back and relaunched."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dispatch.requests.decisions import (
    Audience,
    Decision,
    Effect,
    EventSpec,
    ExtendLinks,
    OfferTo,
    Plan,
    Refusal,
    Snapshot,
    TellOperator,
    Withdraw,
    WithdrawFrom,
    closing,
    iso,
    opening_community,
)
from dispatch.requests.machine.waves import community_offers, next_wave
from dispatch.requests.states import OPEN_STATES, OfferStatus, State
from dispatch.requests.states import EventType as E


def open_request(*, now: datetime, plan: Plan, treating_eligible: bool, placed: bool = False) -> Decision:
    """Decide how a new request starts: the treating GP alone, or the community (its first wave, or everyone)."""
    expires_at = now + timedelta(seconds=plan.response_s)
    plan_data: dict[str, object] = {"exclusive_s": plan.exclusive_s, "response_s": plan.response_s}
    if plan.waves:
        plan_data["waves"] = [wave.as_data() for wave in plan.waves]
    if treating_eligible and plan.exclusive_s > 0:
        exclusive_until = min(now + timedelta(seconds=plan.exclusive_s), expires_at)
        event = EventSpec(
            E.OPENED,
            {"state": State.EXCLUSIVE, "exclusive_until": iso(exclusive_until), "expires_at": iso(expires_at), "plan": plan_data},
        )
        return Decision(
            State.EXCLUSIVE,
            exclusive_until,
            expires_at,
            (event,),
            (OfferTo(Audience.TREATING),),
            {"opened_at": now, "community_at": None},
        )
    event = EventSpec(
        E.OPENED, {"state": State.COMMUNITY, "exclusive_until": None, "expires_at": iso(expires_at), "plan": plan_data}
    )
    offers, events, values = community_offers(waves=plan.waves, opened_at=now, placed=placed, now=now)
    return Decision(State.COMMUNITY, None, expires_at, (event, *events), offers, {"opened_at": now, "community_at": now, **values})


def advance(snapshot: Snapshot, *, now: datetime) -> Decision | None:
    """Return the transition due at `now`, or None when nothing is due."""
    if snapshot.state not in OPEN_STATES:
        return None
    if now >= snapshot.expires_at:
        return Decision(
            State.EXPIRED,
            snapshot.exclusive_until,
            snapshot.expires_at,
            (EventSpec(E.EXPIRED, {"deadline": iso(snapshot.expires_at)}),),
            (Withdraw(State.EXPIRED), TellOperator()),
            closing(now),
        )
    if snapshot.state == State.EXCLUSIVE and snapshot.exclusive_until is not None and now >= snapshot.exclusive_until:
        offers, events, values = opening_offers(snapshot, now)
        return Decision(
            State.COMMUNITY,
            snapshot.exclusive_until,
            snapshot.expires_at,
            (EventSpec(E.COMMUNITY_OPENED, {"deadline": iso(snapshot.exclusive_until)}), *events),
            offers,
            {**opening_community(snapshot, now), **values},
        )
    return next_wave(snapshot, now=now)


def opening_offers(snapshot: Snapshot, now: datetime) -> tuple[tuple[Effect, ...], tuple[EventSpec, ...], dict[str, Any]]:
    """Return whom the community phase of this request opens to at `now` (its waves), its events and columns."""
    assert snapshot.opened_at is not None
    return community_offers(waves=snapshot.waves, opened_at=snapshot.opened_at, placed=snapshot.patient_placed, now=now)


def postpone(snapshot: Snapshot, *, by: timedelta, reason: str) -> Decision | None:
    """Move an open request's deadlines `by` later: the time the service lost (a maintenance, an outage).

    The live deadlines move (the treating GP's hour in the exclusive phase, and the expiry), so that the request has
    as long left as it had when the service stopped; a phase already over keeps its date. None for a closed request
    or no time lost.
    """
    if snapshot.state not in OPEN_STATES or by <= timedelta(0):
        return None
    held = snapshot.state == State.EXCLUSIVE and snapshot.exclusive_until is not None
    exclusive_until = snapshot.exclusive_until + by if held and snapshot.exclusive_until is not None else snapshot.exclusive_until
    expires_at = snapshot.expires_at + by
    data = {
        "by_s": round(by.total_seconds()),
        "reason": reason,
        "exclusive_until": iso(exclusive_until) if held else None,
        "expires_at": iso(expires_at),
    }
    waves = {"next_wave_at": snapshot.next_wave_at + by} if snapshot.next_wave_at is not None else {}
    return Decision(
        snapshot.state, exclusive_until, expires_at, (EventSpec(E.DEADLINES_MOVED, data),), (ExtendLinks(expires_at),), waves
    )


def treating_unavailable(snapshot: Snapshot, *, now: datetime) -> Decision | None:
    """Decide what the treating GP's leaving (account deactivated) does: a request held for them goes to the community.

    Only a request in its exclusive phase, not yet expired, moves (None otherwise): as when the treating GP refuses,
    everyone eligible gets it at once, and the treating GP's own offer is withdrawn from their phones.
    """
    if snapshot.state != State.EXCLUSIVE or snapshot.treating_physician_id is None or now >= snapshot.expires_at:
        return None
    offers, events, values = opening_offers(snapshot, now)
    return Decision(
        State.COMMUNITY,
        snapshot.exclusive_until,
        snapshot.expires_at,
        (EventSpec(E.COMMUNITY_OPENED, {"after": "treating_unavailable"}), *events),
        (WithdrawFrom(snapshot.treating_physician_id, "unavailable"), *offers),
        {**opening_community(snapshot, now), **values},
    )


def physician_unavailable(snapshot: Snapshot, *, physician_id: int, now: datetime) -> Decision | None:
    """Decide what a physician's leaving (account deactivated) does to a community-phase request offered to them.

    Their pending offer is withdrawn from their phones, as the treating GP's is when their hour is cut short; the
    request stays as it is, open to everyone else. None when there is nothing of theirs to withdraw (never offered,
    answered already, withdrawn) or the request is no longer in its community phase or past its expiry.
    """
    offer = snapshot.actor_offer
    if snapshot.state != State.COMMUNITY or now >= snapshot.expires_at or offer is None or offer.status != OfferStatus.NOTIFIED:
        return None
    return Decision(
        snapshot.state,
        snapshot.exclusive_until,
        snapshot.expires_at,
        (EventSpec(E.OFFER_WITHDRAWN, {"physician_id": physician_id, "reason": "unavailable"}),),
        (WithdrawFrom(physician_id, "unavailable"),),
    )


def cancel(snapshot: Snapshot, *, now: datetime, reason: str) -> Decision | Refusal:
    """Decide whether an open request may be cancelled: every phone it was offered to is cleared."""
    if snapshot.state not in OPEN_STATES:
        return Refusal.CLOSED
    return Decision(
        State.CANCELLED,
        snapshot.exclusive_until,
        snapshot.expires_at,
        (EventSpec(E.CANCELLED, {"reason": reason}),),
        (Withdraw(State.CANCELLED),),
        {"cancel_reason": reason, **closing(now)},
    )


def call_back(snapshot: Snapshot, *, operator_id: int, result: str, note: str | None, now: datetime) -> Decision | Refusal:
    """Decide whether the operator may record the call-back of an expired request's patient (once)."""
    if snapshot.state in OPEN_STATES:
        return Refusal.STILL_OPEN
    if snapshot.state != State.EXPIRED:
        return Refusal.NOT_EXPIRED
    if snapshot.called_back:
        return Refusal.ALREADY_RECORDED
    values = {"callback_result": result, "callback_note": note, "callback_at": now, "callback_by_id": operator_id}
    event = EventSpec(E.CALLED_BACK, {"result": result, "note": note})
    return Decision(snapshot.state, snapshot.exclusive_until, snapshot.expires_at, (event,), (), values)


def relaunchable(snapshot: Snapshot) -> Refusal | None:
    """Say why a request may not be relaunched (still open, or relaunched already: once at most), or None."""
    if snapshot.state in OPEN_STATES:
        return Refusal.STILL_OPEN
    return Refusal.ALREADY_RELAUNCHED if snapshot.relaunched_as is not None else None
