"""The escalation machine: every rule of a request's life, as pure decisions on a snapshot, given `now`.

The use cases read a `Snapshot`, ask the machine, write the `Decision` (its state, deadlines, columns and
events) and carry out each of its effects, which are values (`dispatch.requests.decisions`). Nothing outside this
module decides a state, a deadline, an event, a side effect, or a window a user's action must fall in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from dispatch.requests.decisions import (
    EFFECT_TYPES,
    ActorOffer,
    AnswerOffer,
    Audience,
    Decision,
    Effect,
    EventSpec,
    OfferTo,
    Plan,
    Refusal,
    ReOffer,
    SmsPatient,
    SmsPatientReleased,
    Snapshot,
    StoreSynthesis,
    TellOperator,
    TellOutsideTreating,
    Withdraw,
    WithdrawFrom,
    current_deadline,
    iso,
)
from dispatch.requests.states import (
    ANSWERABLE,
    CLOSED_STATES,
    OPEN_STATES,
    OUTCOMES,
    STATES,
    OfferStatus,
    Phase,
    State,
    SynthesisStatus,
)
from dispatch.requests.states import EventType as E

__all__ = [
    "APPOINTMENT_WINDOW",
    "CLOSED_STATES",
    "EFFECT_TYPES",
    "OPEN_STATES",
    "OUTCOMES",
    "RELEASE_GRACE",
    "STATES",
    "ActorOffer",
    "Decision",
    "Effect",
    "Plan",
    "Refusal",
    "Snapshot",
    "current_deadline",
    "iso",
]

# -- Windows: when a user's action may happen, each decided here once and applied by every screen and the API.

RELEASE_GRACE = timedelta(minutes=15)  # a handed-back request is offered again for at least this long


@dataclass(frozen=True)
class Window:
    """The instants around `now` an action may name: from `before` ago to `ahead` from now, both included."""

    before: timedelta
    ahead: timedelta


# Unscheduled care is seen the same day (DOMAIN.md: within about 12 hours), or the next morning for a request of
# the evening: an appointment from 10 minutes ago (a time typed as it passes, a patient already in the waiting room)
# to 24 hours ahead.
APPOINTMENT_WINDOW = Window(before=timedelta(minutes=10), ahead=timedelta(hours=24))


def appointment_refusal(appointment_at: datetime, *, now: datetime) -> Refusal | None:
    """Say why an appointment cannot be fixed at `appointment_at` (already past, or too far ahead), or None."""
    if appointment_at < now - APPOINTMENT_WINDOW.before:
        return Refusal.APPOINTMENT_PAST
    if appointment_at > now + APPOINTMENT_WINDOW.ahead:
        return Refusal.APPOINTMENT_TOO_FAR
    return None


def open_to(state: str, expires_at: datetime, offer_status: str | None, *, now: datetime) -> bool:
    """Say whether a physician whose offer of the request has `offer_status` may still take it now ("open to me").

    The request is open and before its expiry, and their offer waits for an answer or was refused (they may change
    their mind); in the exclusive phase only the treating GP holds an offer.
    """
    return state in OPEN_STATES and now < expires_at and offer_status in ANSWERABLE


def outcome_open(appointment_at: datetime | None, *, now: datetime) -> bool:
    """Say whether the outcome of a taken request may be recorded now: whether the patient came is known from the
    appointment on, not before."""
    return appointment_at is None or now >= appointment_at


# -- Decisions.
def _unchanged(snapshot: Snapshot) -> Decision:
    return Decision(snapshot.state, snapshot.exclusive_until, snapshot.expires_at)


def _closing(now: datetime) -> dict[str, Any]:
    return {"closed_at": now}


def _opening_community(snapshot: Snapshot, now: datetime) -> dict[str, Any]:
    return {} if snapshot.community_at is not None else {"community_at": now}


def open_request(*, now: datetime, plan: Plan, treating_eligible: bool) -> Decision:
    """Decide how a new request starts: the treating GP alone, or the whole community."""
    expires_at = now + timedelta(seconds=plan.response_s)
    plan_data = {"exclusive_s": plan.exclusive_s, "response_s": plan.response_s}
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
    return Decision(
        State.COMMUNITY, None, expires_at, (event,), (OfferTo(Audience.COMMUNITY),), {"opened_at": now, "community_at": now}
    )


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
            _closing(now),
        )
    if snapshot.state == State.EXCLUSIVE and snapshot.exclusive_until is not None and now >= snapshot.exclusive_until:
        return Decision(
            State.COMMUNITY,
            snapshot.exclusive_until,
            snapshot.expires_at,
            (EventSpec(E.COMMUNITY_OPENED, {"deadline": iso(snapshot.exclusive_until)}),),
            (OfferTo(Audience.COMMUNITY),),
            _opening_community(snapshot, now),
        )
    return None


def refuse(snapshot: Snapshot, *, physician_id: int, now: datetime, reason: str | None = None) -> Decision | Refusal:
    """Decide what a physician's refusal does: the treating GP's opens the community at once."""
    if snapshot.state not in OPEN_STATES or now >= snapshot.expires_at:
        return Refusal.CLOSED
    treating_in_exclusive = snapshot.state == State.EXCLUSIVE and physician_id == snapshot.treating_physician_id
    if snapshot.state == State.EXCLUSIVE and not treating_in_exclusive:
        return Refusal.NOT_ELIGIBLE
    offer = snapshot.actor_offer
    if offer is not None and offer.status == OfferStatus.REFUSED:
        return _unchanged(snapshot)  # refusing twice is harmless
    if offer is None or offer.status != OfferStatus.NOTIFIED:
        return Refusal.NOT_ELIGIBLE
    refused = EventSpec(E.REFUSED, {"physician_id": physician_id, "reason": reason, "phase": offer.phase})
    answer = AnswerOffer(physician_id, OfferStatus.REFUSED, reason, previous=offer.status)
    if treating_in_exclusive:
        return Decision(
            State.COMMUNITY,
            snapshot.exclusive_until,
            snapshot.expires_at,
            (refused, EventSpec(E.COMMUNITY_OPENED, {"after": "treating_refused"})),
            (answer, OfferTo(Audience.COMMUNITY)),
            _opening_community(snapshot, now),
        )
    return Decision(snapshot.state, snapshot.exclusive_until, snapshot.expires_at, (refused,), (answer,))


def treating_unavailable(snapshot: Snapshot, *, now: datetime) -> Decision | None:
    """Decide what the treating GP's leaving (account deactivated) does: a request held for them goes to the community.

    Only a request in its exclusive phase, not yet expired, moves (None otherwise): as when the treating GP refuses,
    everyone eligible gets it at once, and the treating GP's own offer is withdrawn from their phones.
    """
    if snapshot.state != State.EXCLUSIVE or snapshot.treating_physician_id is None or now >= snapshot.expires_at:
        return None
    return Decision(
        State.COMMUNITY,
        snapshot.exclusive_until,
        snapshot.expires_at,
        (EventSpec(E.COMMUNITY_OPENED, {"after": "treating_unavailable"}),),
        (WithdrawFrom(snapshot.treating_physician_id, "unavailable"), OfferTo(Audience.COMMUNITY)),
        _opening_community(snapshot, now),
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


def accept(
    snapshot: Snapshot, *, physician_id: int, now: datetime, appointment_at: datetime, place: str | None
) -> Decision | Refusal:
    """Decide whether `physician_id` may take the request at `now`, and what follows."""
    if snapshot.accepted_by_id == physician_id:
        return _unchanged(snapshot)  # accepting twice is harmless
    if snapshot.state not in OPEN_STATES:
        return Refusal.ALREADY_ACCEPTED if snapshot.accepted_by_id is not None else Refusal.CLOSED
    if now >= snapshot.expires_at:
        return Refusal.CLOSED
    in_exclusive = snapshot.state == State.EXCLUSIVE and (snapshot.exclusive_until is None or now < snapshot.exclusive_until)
    if in_exclusive and physician_id != snapshot.treating_physician_id:
        return Refusal.NOT_ELIGIBLE
    offer = snapshot.actor_offer
    if offer is None or offer.status not in ANSWERABLE:
        return Refusal.NOT_ELIGIBLE  # never offered, or withdrawn by a winner who committed since
    late = appointment_refusal(appointment_at, now=now)
    if late is not None:
        return late
    phase = (
        Phase.EXCLUSIVE if physician_id == snapshot.treating_physician_id and snapshot.state == State.EXCLUSIVE else snapshot.state
    )
    effects: list[Effect] = [
        AnswerOffer(physician_id, OfferStatus.ACCEPTED, previous=offer.status),
        Withdraw(State.ACCEPTED, except_physician=physician_id),
    ]
    if snapshot.patient_reachable:
        effects.append(SmsPatient())
    if not snapshot.treating_registered and snapshot.outside_treating_reachable:
        effects.append(TellOutsideTreating())
    values = {
        "accepted_by_id": physician_id,
        "accepted_at": now,
        "accepted_phase": phase,
        "appointment_at": appointment_at,
        "place": place,
        **_closing(now),
    }
    event = EventSpec(
        E.ACCEPTED, {"physician_id": physician_id, "phase": phase, "appointment_at": iso(appointment_at), "place": place}
    )
    return Decision(State.ACCEPTED, snapshot.exclusive_until, snapshot.expires_at, (event,), tuple(effects), values)


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
        {"cancel_reason": reason, **_closing(now)},
    )


def synthesis_status(snapshot: Snapshot, *, physician_id: int) -> str:
    """Return what becomes of a synthesis `physician_id` writes: pending (sent), not_needed or not_sendable."""
    if snapshot.treating_physician_id == physician_id:
        return SynthesisStatus.NOT_NEEDED  # the treating GP saw the patient themselves
    return SynthesisStatus.NOT_SENDABLE if snapshot.treating_address is None else SynthesisStatus.PENDING


def birth_date_needed(snapshot: Snapshot, *, physician_id: int) -> bool:
    """Say whether seeing the patient needs their birth date first: a synthesis to send and none known.

    The synthesis goes to the treating GP as a CDA that the ANS kit (CI-SIS header) rejects without
    `patient/birthTime/@value`; the GP's software may reject it too. The physician has the carte Vitale in hand.
    """
    return not snapshot.birth_date_known and synthesis_status(snapshot, physician_id=physician_id) == SynthesisStatus.PENDING


def record_outcome(
    snapshot: Snapshot,
    *,
    physician_id: int,
    outcome: str,
    synthesis: str | None,
    now: datetime,
    birth_date: date | None = None,
) -> Decision | Refusal:
    """Decide whether the accepting physician may record the outcome now; a seen patient's synthesis is kept.

    `birth_date` completes a request opened without one (ignored when the request has one): it is required when
    the synthesis will be sent to the treating GP.
    """
    if snapshot.state in OUTCOMES:
        return Refusal.ALREADY_RECORDED
    if snapshot.state != State.ACCEPTED:
        return Refusal.NOT_ACCEPTED
    if physician_id != snapshot.accepted_by_id:
        return Refusal.NOT_ELIGIBLE
    if not outcome_open(snapshot.appointment_at, now=now):
        return Refusal.TOO_EARLY  # whether the patient came is known from the appointment on, not before
    completes = birth_date is not None and not snapshot.birth_date_known
    if outcome == State.SEEN and birth_date is None and birth_date_needed(snapshot, physician_id=physician_id):
        return Refusal.BIRTH_DATE_REQUIRED
    events: list[EventSpec] = []
    values: dict[str, Any] = {"outcome": outcome, "outcome_at": now}
    if completes:
        # The date itself stays on the request: an event's data is shown to coordinators, who never see identities.
        events.append(EventSpec(E.PATIENT_BIRTH_DATE_COMPLETED))
        values["patient_birth_date"] = birth_date
    events.append(EventSpec(outcome, {"physician_id": physician_id}))
    effects: tuple[Effect, ...] = ()
    if outcome == State.SEEN:
        status = synthesis_status(snapshot, physician_id=physician_id)
        effects = (StoreSynthesis(physician_id, synthesis or "", status, snapshot.treating_address),)
        events.append(EventSpec(E.SYNTHESIS_WRITTEN, {"status": status}))
        values["synthesis_status"] = status  # the report's copy
    return Decision(outcome, snapshot.exclusive_until, snapshot.expires_at, tuple(events), effects, values)


def release(snapshot: Snapshot, *, physician_id: int, now: datetime, reason: str) -> Decision | Refusal:
    """Decide whether the accepting physician may hand the patient back now: back to the community, never exclusive.

    The request is offered again for what is left of its window, and at least RELEASE_GRACE; the patient and the
    operator are told.
    """
    if snapshot.state != State.ACCEPTED:
        return Refusal.NOT_ACCEPTED
    if physician_id != snapshot.accepted_by_id:
        return Refusal.NOT_ACCEPTED_BY_YOU
    if snapshot.appointment_at is not None and now >= snapshot.appointment_at:
        return Refusal.TOO_LATE  # the appointment has come: record the outcome (no_show) instead
    expires_at = max(snapshot.expires_at, now + RELEASE_GRACE)
    effects: list[Effect] = [
        AnswerOffer(physician_id, OfferStatus.RELEASED, previous=OfferStatus.ACCEPTED),
        ReOffer(except_physician=physician_id),
        OfferTo(Audience.COMMUNITY),
    ]
    if snapshot.patient_reachable:
        effects.append(SmsPatientReleased())
    effects.append(TellOperator(E.RELEASED))
    values: dict[str, Any] = {
        "accepted_by_id": None,
        "accepted_at": None,
        "accepted_phase": None,
        "appointment_at": None,
        "place": None,
        "closed_at": None,
        "releases": snapshot.releases + 1,
        **_opening_community(snapshot, now),
    }
    event = EventSpec(
        E.RELEASED,
        {
            "physician_id": physician_id,
            "reason": reason,
            "appointment_at": iso(snapshot.appointment_at),
            "expires_at": iso(expires_at),
        },
    )
    return Decision(State.COMMUNITY, snapshot.exclusive_until, expires_at, (event,), tuple(effects), values)


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
    """Say why a request may not be relaunched (it is still open), or None: a new one may follow it."""
    return Refusal.STILL_OPEN if snapshot.state in OPEN_STATES else None
