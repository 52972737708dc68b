"""The machine's decisions once a physician took the patient: the outcome of the visit, its synthesis, a hand-back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from dispatch.requests.decisions import (
    AnswerOffer,
    Audience,
    Decision,
    Effect,
    EventSpec,
    OfferTo,
    Refusal,
    ReOffer,
    SmsPatientReleased,
    Snapshot,
    StoreSynthesis,
    TellOperator,
    iso,
    opening_community,
)
from dispatch.requests.machine.windows import RELEASE_GRACE, outcome_correctable, outcome_open
from dispatch.requests.states import OUTCOMES, OfferStatus, State, SynthesisStatus
from dispatch.requests.states import EventType as E


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
    the synthesis will be sent to the treating GP. A recorded outcome may be replaced by the other one within
    OUTCOME_CORRECTION of its first record (a mis-tap): both are events, and a synthesis already written stays.
    """
    correcting = snapshot.state in OUTCOMES
    if correcting:
        if physician_id != snapshot.accepted_by_id:
            return Refusal.NOT_ELIGIBLE
        if outcome == snapshot.state:
            return Refusal.ALREADY_RECORDED
        if not outcome_correctable(snapshot.outcome_at, now=now):
            return Refusal.OUTCOME_FINAL
    elif snapshot.state != State.ACCEPTED:
        return Refusal.NOT_ACCEPTED
    if physician_id != snapshot.accepted_by_id:
        return Refusal.NOT_ELIGIBLE
    if not outcome_open(snapshot.appointment_at, now=now):
        return Refusal.TOO_EARLY  # whether the patient came is known from the appointment on, not before
    writes_synthesis = outcome == State.SEEN and not snapshot.has_synthesis
    completes = birth_date is not None and not snapshot.birth_date_known
    if writes_synthesis and birth_date is None and birth_date_needed(snapshot, physician_id=physician_id):
        return Refusal.BIRTH_DATE_REQUIRED
    events: list[EventSpec] = []
    # A correction keeps the first record's instant: the 24 h to correct count from it.
    values: dict[str, Any] = {"outcome": outcome} if correcting else {"outcome": outcome, "outcome_at": now}
    if correcting:
        events.append(EventSpec(E.OUTCOME_CORRECTED, {"physician_id": physician_id, "from": snapshot.state, "to": outcome}))
    if completes:
        # The date itself stays on the request: an event's data is shown to coordinators, who never see identities.
        events.append(EventSpec(E.PATIENT_BIRTH_DATE_COMPLETED))
        values["patient_birth_date"] = birth_date
    events.append(EventSpec(outcome, {"physician_id": physician_id}))
    effects: tuple[Effect, ...] = ()
    if writes_synthesis:
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
        **({"teleconsultation_url": None} if snapshot.teleconsultation else {}),  # the next physician gives their own
        "closed_at": None,
        "releases": snapshot.releases + 1,
        **opening_community(snapshot, now),
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
