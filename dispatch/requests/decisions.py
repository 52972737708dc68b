"""The values the machine decides with: its snapshot of a request, its decisions, their effects and its refusals.

Pure: a `Snapshot` is what the machine reads, a `Decision` what it returns (state, deadlines, columns, events,
effects), an `Effect` a side effect as a value that says everything needed to carry it out (`effects.CARRY_OUT`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dispatch.requests.states import EventType, OfferStatus, State

# -- Effects: what a decision asks the world to do, carried out by the service in the same transaction.


class Audience(enum.StrEnum):
    """Whom an offer goes to."""

    TREATING = "treating"  # the treating GP alone
    COMMUNITY = "community"  # every eligible member not offered it yet


@dataclass(frozen=True)
class OfferTo:
    """Offer the request: to the treating GP alone, or to every eligible member not offered it yet (of its
    profession; within `radius_km` of the patient when a wave says so)."""

    audience: Audience
    radius_km: float | None = None  # None: at any distance (no wave, or the patient not placed)
    # Within a radius, whether members whose practice is not placed are offered it too (with the last wave: no
    # distance shows them beyond it).
    unplaced_members: bool = True


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
    previous: str = OfferStatus.NOTIFIED  # the status it answers, as the snapshot read it (written only if still so)


@dataclass(frozen=True)
class SmsPatient:
    """Text the appointment to the patient."""


@dataclass(frozen=True)
class TellOutsideTreating:
    """Tell an unregistered treating GP over secure messaging who took their patient."""


@dataclass(frozen=True)
class TellRequester:
    """Text the requester who opened the request that it was accepted (who, when, the teleconsultation link)."""


@dataclass(frozen=True)
class TellOperator:
    """Text the operator who opened the request: it expired (call the patient back) or was handed back."""

    reason: str = EventType.EXPIRED  # expired or released


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


@dataclass(frozen=True)
class ExtendLinks:
    """Keep the offer's SMS links not used yet valid until the request's new expiry (its deadlines moved)."""

    until: datetime


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
    | ExtendLinks
    | TellRequester
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
    ExtendLinks,
    TellRequester,
)


@dataclass(frozen=True)
class Wave:
    """After the exclusive phase, from `after_s` after the opening, the request reaches members within `radius_km`."""

    after_s: int
    radius_km: float

    def as_data(self) -> dict[str, Any]:
        return {"after_s": self.after_s, "radius_km": self.radius_km}


@dataclass(frozen=True)
class Plan:
    """The windows of an escalation and its waves by distance, copied onto a request when it opens."""

    exclusive_s: int
    response_s: int
    waves: tuple[Wave, ...] = ()


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
    outcome_at: datetime | None = None  # when the outcome was first recorded (a correction is allowed for 24 h)
    has_synthesis: bool = False  # a synthesis was written (kept even if the outcome is corrected to a no-show)
    relaunched_as: int | None = None  # the request that relaunches this one (read for a relaunch only)
    waves: tuple[Wave, ...] = ()  # the plan's waves by distance
    next_wave_at: datetime | None = None  # when the next wave opens (None: none left)
    patient_placed: bool = False  # the patient's place is known (lat/lon): the waves can measure distances
    requested: bool = False  # opened by a requester (a nurse, a pharmacist, an EHPAD), who is told of its acceptance
    teleconsultation: bool = False  # the modality asked: the accepting physician gives their tool's link

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
        """When the tick must look at the request next, waves aside (None once closed)."""
        return current_deadline(self.state, self.exclusive_until, self.expires_at)

    @property
    def changes(self) -> bool:
        return bool(self.events)

    def columns(self, *, next_wave_at: datetime | None = None) -> dict[str, Any]:
        """Return every column of the request this decision sets; `next_wave_at` is the request's own when the
        decision does not set it (a wave still to open is a deadline of the community phase)."""
        wave_at = self.values.get("next_wave_at", next_wave_at)
        return {
            "state": self.state,
            "exclusive_until": self.exclusive_until,
            "expires_at": self.expires_at,
            "next_deadline": due_next(self.state, self.exclusive_until, self.expires_at, wave_at),
            **self.values,
        }


class Refusal(enum.StrEnum):
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
    OUTCOME_FINAL = "outcome_final"  # the outcome was recorded more than 24 h ago: no correction any more
    ALREADY_RELAUNCHED = "already_relaunched"  # a request is relaunched at most once
    APPOINTMENT_PAST = "appointment_past"  # an appointment before the window (rules.APPOINTMENT_WINDOW)
    APPOINTMENT_TOO_FAR = "appointment_too_far"  # an appointment after it


def current_deadline(state: str, exclusive_until: datetime | None, expires_at: datetime) -> datetime | None:
    """Return when the phase the request is in ends: what a page counts down to and an offer announces.

    The treating GP's exclusive hour ends at `exclusive_until` (never after `expires_at`); the community
    phase at `expires_at`; a closed request has no deadline.
    """
    if state == State.EXCLUSIVE:
        return min(exclusive_until, expires_at) if exclusive_until else expires_at
    if state == State.COMMUNITY:
        return expires_at
    return None


def due_next(state: str, exclusive_until: datetime | None, expires_at: datetime, next_wave_at: datetime | None) -> datetime | None:
    """Return when the tick must look at a request: its phase's deadline, or the next wave's opening if sooner."""
    deadline = current_deadline(state, exclusive_until, expires_at)
    if state == State.COMMUNITY and deadline is not None and next_wave_at is not None:
        return min(deadline, next_wave_at)
    return deadline


def iso(value: datetime | None) -> str | None:
    """Return an instant as the API writes it (UTC, with Z)."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def unchanged(snapshot: Snapshot) -> Decision:
    """Return the decision that changes nothing (an action repeated by the same physician)."""
    return Decision(snapshot.state, snapshot.exclusive_until, snapshot.expires_at)


def closing(now: datetime) -> dict[str, Any]:
    """Return the columns a decision that closes the request sets."""
    return {"closed_at": now}


def opening_community(snapshot: Snapshot, now: datetime) -> dict[str, Any]:
    """Return the columns a decision that opens the community phase sets (its first instant, kept)."""
    return {} if snapshot.community_at is not None else {"community_at": now}
