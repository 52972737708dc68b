"""The windows a user's action must fall in, each decided here once and applied by every screen and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatch.requests.decisions import Refusal
from dispatch.requests.states import ANSWERABLE, OPEN_STATES

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


# A mis-tapped outcome ("Patient absent" for "Patient vu") may be replaced for this long after it was first recorded.
OUTCOME_CORRECTION = timedelta(hours=24)


def outcome_correctable(outcome_at: datetime | None, *, now: datetime) -> bool:
    """Say whether an outcome recorded at `outcome_at` may still be corrected now (within 24 h of it)."""
    return outcome_at is not None and now < outcome_at + OUTCOME_CORRECTION


def outcome_open(appointment_at: datetime | None, *, now: datetime) -> bool:
    """Say whether the outcome of a taken request may be recorded now: whether the patient came is known from the
    appointment on, not before."""
    return appointment_at is None or now >= appointment_at
