"""The escalation machine: every rule of a request's life, as pure decisions on a snapshot, given `now`.

The service reads a `Snapshot`, asks the machine, writes the `Decision` (its state, deadlines, columns and
events) and carries out each of its effects, which are values. Nothing outside this module decides a state,
a deadline, an event or a side effect.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

OPEN_STATES = ("exclusive", "community")
CLOSED_STATES = ("accepted", "expired", "cancelled", "seen", "no_show")
STATES = OPEN_STATES + CLOSED_STATES
OUTCOMES = ("seen", "no_show")


# -- Effects: what a decision asks the world to do, carried out by the service in the same transaction.


@dataclass(frozen=True)
class OfferTo:
    """Offer the request: to the treating GP alone, or to every eligible member not offered it yet."""

    audience: str  # "treating" or "community"


@dataclass(frozen=True)
class Withdraw:
    """Withdraw every pending offer (but `except_physician`'s) and clear it from those phones."""

    reason: str  # accepted, expired, cancelled
    except_physician: int | None = None


@dataclass(frozen=True)
class WithdrawFrom:
    """Withdraw one physician's pending offer and clear it from their phones (they can no longer take it)."""

    physician_id: int
    reason: str  # unavailable: the account was deactivated


@dataclass(frozen=True)
class AnswerOffer:
    """Record a physician's answer on their own offer (and in the offers' rollup)."""

    physician_id: int
    status: str  # accepted or refused
    reason: str | None = None
    previous: str = "notified"  # the status it answers, as the snapshot read it (written only if still so)


@dataclass(frozen=True)
class SmsPatient:
    """Text the appointment to the patient."""


@dataclass(frozen=True)
class TellOutsideTreating:
    """Tell an unregistered treating GP over secure messaging who took their patient."""


@dataclass(frozen=True)
class TellOperator:
    """Text the operator who opened the request: it expired (call the patient back) or was handed back."""

    reason: str = "expired"  # expired or released


@dataclass(frozen=True)
class ReOffer:
    """Offer a handed-back request again to those it was withdrawn from who are still eligible (not `except_physician`)."""

    except_physician: int


@dataclass(frozen=True)
class SmsPatientReleased:
    """Text the patient that their appointment is cancelled and another doctor is being sought."""


@dataclass(frozen=True)
class StoreSynthesis:
    """Keep the synthesis of the consultation and send it to the treating GP when someone must get it."""

    physician_id: int
    text: str
    status: str  # pending (to send), not_needed (the treating GP saw the patient), not_sendable (no address)
    address: str | None = None


Effect = (
    OfferTo
    | Withdraw
    | AnswerOffer
    | SmsPatient
    | TellOutsideTreating
    | TellOperator
    | StoreSynthesis
    | ReOffer
    | SmsPatientReleased
    | WithdrawFrom
)
EFFECT_TYPES: tuple[type, ...] = (
    OfferTo,
    Withdraw,
    AnswerOffer,
    SmsPatient,
    TellOutsideTreating,
    TellOperator,
    StoreSynthesis,
    ReOffer,
    SmsPatientReleased,
    WithdrawFrom,
)
RELEASE_GRACE = timedelta(minutes=15)  # a handed-back request is offered again for at least this long


@dataclass(frozen=True)
class Plan:
    """The windows of an escalation, copied onto a request when it opens."""

    exclusive_s: int
    response_s: int


@dataclass(frozen=True)
class ActorOffer:
    """The acting physician's offer of this request, as it stands."""

    status: str  # notified, refused, accepted, withdrawn
    phase: str


@dataclass(frozen=True)
class Snapshot:
    """What the machine needs to know of a request, and of the physician acting on it (if any)."""

    state: str
    exclusive_until: datetime | None
    expires_at: datetime
    treating_physician_id: int | None = None
    accepted_by_id: int | None = None
    opened_at: datetime | None = None
    community_at: datetime | None = None
    # The treating GP can be told by secure mail (not a member, with an MSSanté address).
    outside_treating_reachable: bool = False
    patient_reachable: bool = False  # the patient has a phone for the appointment's SMS
    actor_offer: ActorOffer | None = None
    treating_address: str | None = None  # the treating GP's MSSanté address (read for an outcome only)
    appointment_at: datetime | None = None
    releases: int = 0  # how many times the request was handed back (names the messages of each round)
    called_back: bool = False  # the operator recorded the call-back of the patient
    birth_date_known: bool = False  # the patient's birth date is on the request (the synthesis's CDA requires it)

    @property
    def treating_registered(self) -> bool:
        """The treating GP is a member of the community: they get offers, not secure mail."""
        return self.treating_physician_id is not None


@dataclass(frozen=True)
class EventSpec:
    """An event of the request's trail that a decision records."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The outcome of a step: the new state, its deadlines, the columns it sets, its events and effects.

    A decision with no events changes nothing (an action repeated by the same physician).
    """

    state: str
    exclusive_until: datetime | None
    expires_at: datetime
    events: tuple[EventSpec, ...] = ()
    effects: tuple[Effect, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)  # other columns: accepted_by_id, closed_at, ...

    @property
    def next_deadline(self) -> datetime | None:
        """When the tick must look at the request next (None once closed)."""
        return current_deadline(self.state, self.exclusive_until, self.expires_at)

    @property
    def changes(self) -> bool:
        return bool(self.events)

    def columns(self) -> dict[str, Any]:
        """Return every column of the request this decision sets."""
        return {
            "state": self.state,
            "exclusive_until": self.exclusive_until,
            "expires_at": self.expires_at,
            "next_deadline": self.next_deadline,
            **self.values,
        }


class Refusal(str, enum.Enum):
    """Why an action is not allowed, as the API's error codes."""

    CLOSED = "closed"
    ALREADY_ACCEPTED = "already_accepted"
    NOT_ELIGIBLE = "not_eligible"
    NOT_ACCEPTED = "not_accepted"
    NOT_ACCEPTED_BY_YOU = "not_accepted_by_you"  # another physician took it: nothing of theirs to hand back
    ALREADY_RECORDED = "already_recorded"
    TOO_EARLY = "too_early"
    TOO_LATE = "too_late"
    STILL_OPEN = "still_open"
    NOT_EXPIRED = "not_expired"
    BIRTH_DATE_REQUIRED = "birth_date_required"  # a synthesis goes over MSSanté: the national CDA wants the birth date


def current_deadline(state: str, exclusive_until: datetime | None, expires_at: datetime) -> datetime | None:
    """Return when the phase the request is in ends: what a page counts down to and an offer announces.

    The treating GP's exclusive hour ends at `exclusive_until` (never after `expires_at`); the community
    phase at `expires_at`; a closed request has no deadline.
    """
    if state == "exclusive":
        return min(exclusive_until, expires_at) if exclusive_until else expires_at
    if state == "community":
        return expires_at
    return None


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


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
            "opened",
            {"state": "exclusive", "exclusive_until": iso(exclusive_until), "expires_at": iso(expires_at), "plan": plan_data},
        )
        return Decision(
            "exclusive", exclusive_until, expires_at, (event,), (OfferTo("treating"),), {"opened_at": now, "community_at": None}
        )
    event = EventSpec("opened", {"state": "community", "exclusive_until": None, "expires_at": iso(expires_at), "plan": plan_data})
    return Decision("community", None, expires_at, (event,), (OfferTo("community"),), {"opened_at": now, "community_at": now})


def advance(snapshot: Snapshot, *, now: datetime) -> Decision | None:
    """Return the transition due at `now`, or None when nothing is due."""
    if snapshot.state not in OPEN_STATES:
        return None
    if now >= snapshot.expires_at:
        return Decision(
            "expired",
            snapshot.exclusive_until,
            snapshot.expires_at,
            (EventSpec("expired", {"deadline": iso(snapshot.expires_at)}),),
            (Withdraw("expired"), TellOperator()),
            _closing(now),
        )
    if snapshot.state == "exclusive" and snapshot.exclusive_until is not None and now >= snapshot.exclusive_until:
        return Decision(
            "community",
            snapshot.exclusive_until,
            snapshot.expires_at,
            (EventSpec("community_opened", {"deadline": iso(snapshot.exclusive_until)}),),
            (OfferTo("community"),),
            _opening_community(snapshot, now),
        )
    return None


def refuse(snapshot: Snapshot, *, physician_id: int, now: datetime, reason: str | None = None) -> Decision | Refusal:
    """Decide what a physician's refusal does: the treating GP's opens the community at once."""
    if snapshot.state not in OPEN_STATES or now >= snapshot.expires_at:
        return Refusal.CLOSED
    treating_in_exclusive = snapshot.state == "exclusive" and physician_id == snapshot.treating_physician_id
    if snapshot.state == "exclusive" and not treating_in_exclusive:
        return Refusal.NOT_ELIGIBLE
    offer = snapshot.actor_offer
    if offer is not None and offer.status == "refused":
        return _unchanged(snapshot)  # refusing twice is harmless
    if offer is None or offer.status != "notified":
        return Refusal.NOT_ELIGIBLE
    refused = EventSpec("refused", {"physician_id": physician_id, "reason": reason, "phase": offer.phase})
    answer = AnswerOffer(physician_id, "refused", reason, previous=offer.status)
    if treating_in_exclusive:
        return Decision(
            "community",
            snapshot.exclusive_until,
            snapshot.expires_at,
            (refused, EventSpec("community_opened", {"after": "treating_refused"})),
            (answer, OfferTo("community")),
            _opening_community(snapshot, now),
        )
    return Decision(snapshot.state, snapshot.exclusive_until, snapshot.expires_at, (refused,), (answer,))


def treating_unavailable(snapshot: Snapshot, *, now: datetime) -> Decision | None:
    """Decide what the treating GP's leaving (account deactivated) does: a request held for them goes to the community.

    Only a request in its exclusive phase, not yet expired, moves (None otherwise): as when the treating GP refuses,
    everyone eligible gets it at once, and the treating GP's own offer is withdrawn from their phones.
    """
    if snapshot.state != "exclusive" or snapshot.treating_physician_id is None or now >= snapshot.expires_at:
        return None
    return Decision(
        "community",
        snapshot.exclusive_until,
        snapshot.expires_at,
        (EventSpec("community_opened", {"after": "treating_unavailable"}),),
        (WithdrawFrom(snapshot.treating_physician_id, "unavailable"), OfferTo("community")),
        _opening_community(snapshot, now),
    )


def physician_unavailable(snapshot: Snapshot, *, physician_id: int, now: datetime) -> Decision | None:
    """Decide what a physician's leaving (account deactivated) does to a community-phase request offered to them.

    Their pending offer is withdrawn from their phones, as the treating GP's is when their hour is cut short; the
    request stays as it is, open to everyone else. None when there is nothing of theirs to withdraw (never offered,
    answered already, withdrawn) or the request is no longer in its community phase or past its expiry.
    """
    offer = snapshot.actor_offer
    if snapshot.state != "community" or now >= snapshot.expires_at or offer is None or offer.status != "notified":
        return None
    return Decision(
        snapshot.state,
        snapshot.exclusive_until,
        snapshot.expires_at,
        (EventSpec("offer_withdrawn", {"physician_id": physician_id, "reason": "unavailable"}),),
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
    in_exclusive = snapshot.state == "exclusive" and (snapshot.exclusive_until is None or now < snapshot.exclusive_until)
    if in_exclusive and physician_id != snapshot.treating_physician_id:
        return Refusal.NOT_ELIGIBLE
    offer = snapshot.actor_offer
    if offer is None or offer.status not in ("notified", "refused"):
        return Refusal.NOT_ELIGIBLE  # never offered, or withdrawn by a winner who committed since
    phase = "exclusive" if physician_id == snapshot.treating_physician_id and snapshot.state == "exclusive" else snapshot.state
    effects: list[Effect] = [
        AnswerOffer(physician_id, "accepted", previous=offer.status),
        Withdraw("accepted", except_physician=physician_id),
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
        "accepted", {"physician_id": physician_id, "phase": phase, "appointment_at": iso(appointment_at), "place": place}
    )
    return Decision("accepted", snapshot.exclusive_until, snapshot.expires_at, (event,), tuple(effects), values)


def cancel(snapshot: Snapshot, *, now: datetime, reason: str) -> Decision | Refusal:
    """Decide whether an open request may be cancelled: every phone it was offered to is cleared."""
    if snapshot.state not in OPEN_STATES:
        return Refusal.CLOSED
    return Decision(
        "cancelled",
        snapshot.exclusive_until,
        snapshot.expires_at,
        (EventSpec("cancelled", {"reason": reason}),),
        (Withdraw("cancelled"),),
        {"cancel_reason": reason, **_closing(now)},
    )


def synthesis_status(snapshot: Snapshot, *, physician_id: int) -> str:
    """Return what becomes of a synthesis `physician_id` writes: pending (sent), not_needed or not_sendable."""
    if snapshot.treating_physician_id == physician_id:
        return "not_needed"  # the treating GP saw the patient themselves
    return "not_sendable" if snapshot.treating_address is None else "pending"


def birth_date_needed(snapshot: Snapshot, *, physician_id: int) -> bool:
    """Say whether seeing the patient needs their birth date first: a synthesis to send and none known.

    The synthesis goes to the treating GP as a CDA that the ANS kit (CI-SIS header) rejects without
    `patient/birthTime/@value`; the GP's software may reject it too. The physician has the carte Vitale in hand.
    """
    return not snapshot.birth_date_known and synthesis_status(snapshot, physician_id=physician_id) == "pending"


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
    if snapshot.state != "accepted":
        return Refusal.NOT_ACCEPTED
    if physician_id != snapshot.accepted_by_id:
        return Refusal.NOT_ELIGIBLE
    if snapshot.appointment_at is not None and now < snapshot.appointment_at:
        return Refusal.TOO_EARLY  # whether the patient came is known from the appointment on, not before
    completes = birth_date is not None and not snapshot.birth_date_known
    if outcome == "seen" and birth_date is None and birth_date_needed(snapshot, physician_id=physician_id):
        return Refusal.BIRTH_DATE_REQUIRED
    events: list[EventSpec] = []
    values: dict[str, Any] = {"outcome": outcome, "outcome_at": now}
    if completes:
        # The date itself stays on the request: an event's data is shown to coordinators, who never see identities.
        events.append(EventSpec("patient_birth_date_completed"))
        values["patient_birth_date"] = birth_date
    events.append(EventSpec(outcome, {"physician_id": physician_id}))
    effects: tuple[Effect, ...] = ()
    if outcome == "seen":
        status = synthesis_status(snapshot, physician_id=physician_id)
        effects = (StoreSynthesis(physician_id, synthesis or "", status, snapshot.treating_address),)
        events.append(EventSpec("synthesis_written", {"status": status}))
        values["synthesis_status"] = status  # the report's copy
    return Decision(outcome, snapshot.exclusive_until, snapshot.expires_at, tuple(events), effects, values)


def release(snapshot: Snapshot, *, physician_id: int, now: datetime, reason: str) -> Decision | Refusal:
    """Decide whether the accepting physician may hand the patient back now: back to the community, never exclusive.

    The request is offered again for what is left of its window, and at least RELEASE_GRACE; the patient and the
    operator are told.
    """
    if snapshot.state != "accepted":
        return Refusal.NOT_ACCEPTED
    if physician_id != snapshot.accepted_by_id:
        return Refusal.NOT_ACCEPTED_BY_YOU
    if snapshot.appointment_at is not None and now >= snapshot.appointment_at:
        return Refusal.TOO_LATE  # the appointment has come: record the outcome (no_show) instead
    expires_at = max(snapshot.expires_at, now + RELEASE_GRACE)
    effects: list[Effect] = [
        AnswerOffer(physician_id, "released", previous="accepted"),
        ReOffer(except_physician=physician_id),
        OfferTo("community"),
    ]
    if snapshot.patient_reachable:
        effects.append(SmsPatientReleased())
    effects.append(TellOperator("released"))
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
        "released",
        {
            "physician_id": physician_id,
            "reason": reason,
            "appointment_at": iso(snapshot.appointment_at),
            "expires_at": iso(expires_at),
        },
    )
    return Decision("community", snapshot.exclusive_until, expires_at, (event,), tuple(effects), values)


def call_back(snapshot: Snapshot, *, operator_id: int, result: str, note: str | None, now: datetime) -> Decision | Refusal:
    """Decide whether the operator may record the call-back of an expired request's patient (once)."""
    if snapshot.state in OPEN_STATES:
        return Refusal.STILL_OPEN
    if snapshot.state != "expired":
        return Refusal.NOT_EXPIRED
    if snapshot.called_back:
        return Refusal.ALREADY_RECORDED
    values = {"callback_result": result, "callback_note": note, "callback_at": now, "callback_by_id": operator_id}
    event = EventSpec("called_back", {"result": result, "note": note})
    return Decision(snapshot.state, snapshot.exclusive_until, snapshot.expires_at, (event,), (), values)


def relaunchable(snapshot: Snapshot) -> Refusal | None:
    """Say why a request may not be relaunched (it is still open), or None: a new one may follow it."""
    return Refusal.STILL_OPEN if snapshot.state in OPEN_STATES else None
