"""The escalation machine: pure decisions on a request's state, given `now`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

OPEN_STATES = ("exclusive", "community")
CLOSED_STATES = ("accepted", "expired", "cancelled", "seen", "no_show")
STATES = OPEN_STATES + CLOSED_STATES


class Effect(str, enum.Enum):
    """A consequence of a transition that the service turns into rows."""

    OFFER_TREATING = "offer_treating"  # push the offer to the treating GP alone
    OFFER_COMMUNITY = "offer_community"  # push the offer to every eligible member not yet offered
    WITHDRAW_OTHERS = "withdraw_others"  # clear the offer on every other phone
    WITHDRAW_ALL = "withdraw_all"
    TELL_PATIENT = "tell_patient"  # SMS the appointment to the patient
    TELL_OUTSIDE_TREATING = "tell_outside_treating"  # secure message to an unregistered GP
    TELL_OPERATOR = "tell_operator"  # the request expired: call the patient back
    SEND_SYNTHESIS = "send_synthesis"


@dataclass(frozen=True)
class Plan:
    """The windows of an escalation, copied onto a request when it opens."""

    exclusive_s: int
    response_s: int


@dataclass(frozen=True)
class Snapshot:
    """What the machine needs to know of a request."""

    state: str
    exclusive_until: datetime | None
    expires_at: datetime
    treating_physician_id: int | None = None
    accepted_by_id: int | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome of a step: the new state, its deadlines, and what to do about it."""

    state: str
    exclusive_until: datetime | None
    expires_at: datetime
    next_deadline: datetime | None
    event: str
    effects: tuple[Effect, ...] = field(default=())


class Refusal(str, enum.Enum):
    """Why an action is not allowed, as the API's error codes."""

    CLOSED = "closed"
    ALREADY_ACCEPTED = "already_accepted"
    NOT_ELIGIBLE = "not_eligible"
    NOT_ACCEPTED = "not_accepted"
    ALREADY_RECORDED = "already_recorded"


def next_deadline(state: str, exclusive_until: datetime | None, expires_at: datetime) -> datetime | None:
    """Return the next instant the tick must look at a request in `state`."""
    if state == "exclusive":
        return min(exclusive_until, expires_at) if exclusive_until else expires_at
    if state == "community":
        return expires_at
    return None


def open_request(*, now: datetime, plan: Plan, treating_eligible: bool) -> Decision:
    """Decide how a new request starts: the treating GP alone, or the whole community."""
    expires_at = now + timedelta(seconds=plan.response_s)
    if treating_eligible and plan.exclusive_s > 0:
        exclusive_until = min(now + timedelta(seconds=plan.exclusive_s), expires_at)
        return Decision("exclusive", exclusive_until, expires_at, next_deadline("exclusive", exclusive_until, expires_at),
                        "opened", (Effect.OFFER_TREATING,))
    return Decision("community", None, expires_at, expires_at, "opened", (Effect.OFFER_COMMUNITY,))


def advance(snapshot: Snapshot, *, now: datetime) -> Decision | None:
    """Return the transition due at `now`, or None when nothing is due."""
    if snapshot.state not in OPEN_STATES:
        return None
    if now >= snapshot.expires_at:
        return Decision("expired", snapshot.exclusive_until, snapshot.expires_at, None, "expired",
                        (Effect.WITHDRAW_ALL, Effect.TELL_OPERATOR))
    if snapshot.state == "exclusive" and snapshot.exclusive_until is not None and now >= snapshot.exclusive_until:
        return Decision("community", snapshot.exclusive_until, snapshot.expires_at, snapshot.expires_at,
                        "community_opened", (Effect.OFFER_COMMUNITY,))
    return None


def refuse(snapshot: Snapshot, *, physician_id: int, now: datetime) -> Decision | Refusal:
    """Decide what a physician's refusal does: the treating GP's opens the community at once."""
    if snapshot.state not in OPEN_STATES or now >= snapshot.expires_at:
        return Refusal.CLOSED
    if snapshot.state == "exclusive" and physician_id == snapshot.treating_physician_id:
        return Decision("community", snapshot.exclusive_until, snapshot.expires_at, snapshot.expires_at,
                        "refused", (Effect.OFFER_COMMUNITY,))
    if snapshot.state == "exclusive":
        return Refusal.NOT_ELIGIBLE
    return Decision(snapshot.state, snapshot.exclusive_until, snapshot.expires_at,
                    next_deadline(snapshot.state, snapshot.exclusive_until, snapshot.expires_at), "refused")


def accept(snapshot: Snapshot, *, physician_id: int, now: datetime, treating_registered: bool) -> Decision | Refusal:
    """Decide whether `physician_id` may take the request at `now`."""
    if snapshot.state not in OPEN_STATES:
        if snapshot.accepted_by_id is not None:
            return Refusal.ALREADY_ACCEPTED
        return Refusal.CLOSED
    if now >= snapshot.expires_at:
        return Refusal.CLOSED
    in_exclusive = snapshot.state == "exclusive" and (snapshot.exclusive_until is None or now < snapshot.exclusive_until)
    if in_exclusive and physician_id != snapshot.treating_physician_id:
        return Refusal.NOT_ELIGIBLE
    effects = [Effect.WITHDRAW_OTHERS, Effect.TELL_PATIENT]
    if not treating_registered:
        effects.append(Effect.TELL_OUTSIDE_TREATING)
    return Decision("accepted", snapshot.exclusive_until, snapshot.expires_at, None, "accepted", tuple(effects))


def cancel(snapshot: Snapshot) -> Decision | Refusal:
    """Decide whether an open request may be cancelled."""
    if snapshot.state not in OPEN_STATES:
        return Refusal.CLOSED
    return Decision("cancelled", snapshot.exclusive_until, snapshot.expires_at, None, "cancelled", (Effect.WITHDRAW_ALL,))


def record_outcome(snapshot: Snapshot, *, physician_id: int, outcome: str) -> Decision | Refusal:
    """Decide whether the accepting physician may record the outcome now."""
    if snapshot.state in ("seen", "no_show"):
        return Refusal.ALREADY_RECORDED
    if snapshot.state != "accepted":
        return Refusal.NOT_ACCEPTED
    if physician_id != snapshot.accepted_by_id:
        return Refusal.NOT_ELIGIBLE
    effects = (Effect.SEND_SYNTHESIS,) if outcome == "seen" else ()
    return Decision(outcome, snapshot.exclusive_until, snapshot.expires_at, None, "outcome", effects)
