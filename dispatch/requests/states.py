"""The request domain's words as enums: states, offer statuses, phases, outcomes and the events of a request's trail.

Each is a `StrEnum`, so a member is the very string stored in its column (a CHECK constraint per column keeps the
database to these values: migration 0013) and compares equal to it. Pure: no Flask, no database.
"""

from __future__ import annotations

import enum


class State(enum.StrEnum):
    """Where a request is in its life (ARCHITECTURE.md, "States of a request")."""

    EXCLUSIVE = "exclusive"  # the treating GP alone
    COMMUNITY = "community"  # every eligible member
    ACCEPTED = "accepted"
    SEEN = "seen"
    NO_SHOW = "no_show"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


OPEN_STATES = (State.EXCLUSIVE, State.COMMUNITY)
CLOSED_STATES = (State.ACCEPTED, State.EXPIRED, State.CANCELLED, State.SEEN, State.NO_SHOW)
STATES = OPEN_STATES + CLOSED_STATES
OUTCOMES = (State.SEEN, State.NO_SHOW)


class Phase(enum.StrEnum):
    """The phase a request was offered or accepted in."""

    EXCLUSIVE = "exclusive"
    COMMUNITY = "community"


class OfferStatus(enum.StrEnum):
    """Where one physician's offer of a request stands."""

    NOTIFIED = "notified"  # waits for their answer
    REFUSED = "refused"  # they said no (and may still change their mind while it is open)
    ACCEPTED = "accepted"
    WITHDRAWN = "withdrawn"  # taken by another, expired, cancelled, or they left
    RELEASED = "released"  # they took it, then handed the patient back


# An offer its physician may still accept while the request is open: waiting, or refused and thought over.
ANSWERABLE = (OfferStatus.NOTIFIED, OfferStatus.REFUSED)
# An offer that waits for an answer: what a physician's list of offers shows (a refused one has left it).
AWAITING = (OfferStatus.NOTIFIED,)


class SynthesisStatus(enum.StrEnum):
    """What became of a synthesis (dispatch.notify.receiving moves it from sent on)."""

    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    REFUSED = "refused"
    FAILED = "failed"
    NOT_SENDABLE = "not_sendable"  # no treating GP, or no address
    NOT_NEEDED = "not_needed"  # the treating GP saw the patient themselves


class CallbackResult(enum.StrEnum):
    """What the operator's call-back of an expired request's patient gave."""

    REORIENTED_SAS = "reoriented_sas"
    REORIENTED_15 = "reoriented_15"
    ADVICE_GIVEN = "advice_given"
    UNREACHABLE = "unreachable"
    RELAUNCHED = "relaunched"


class EventType(enum.StrEnum):
    """Every kind of line in a request's trail (events.type)."""

    OPENED = "opened"
    COMMUNITY_OPENED = "community_opened"
    REFUSED = "refused"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SEEN = "seen"
    NO_SHOW = "no_show"
    RELEASED = "released"
    CALLED_BACK = "called_back"
    OFFER_WITHDRAWN = "offer_withdrawn"
    PATIENT_BIRTH_DATE_COMPLETED = "patient_birth_date_completed"
    SYNTHESIS_WRITTEN = "synthesis_written"
    OUTCOME_CORRECTED = "outcome_corrected"  # a mis-tapped outcome replaced within 24 h
    RELAUNCH_OF = "relaunch_of"
    RELAUNCHED = "relaunched"
    TREATING_ADDRESS_CHANGED = "treating_address_changed"
    SYNTHESIS_TO_NEW_ADDRESS = "synthesis_to_new_address"  # sent to an address changed in the last 30 days
    MSSANTE_FOUND = "mssante_found"  # the treating GP's address, found in the Annuaire Santé
    MSSANTE_NOT_FOUND = "mssante_not_found"
    MSSANTE_LOOKUP_FAILED = "mssante_lookup_failed"
    DEADLINES_MOVED = "deadlines_moved"  # by the time the service lost (a maintenance, an outage, a restore)
    PATIENT_RECTIFIED = "patient_rectified"  # the operator corrected the identity or phone: {"fields", "reference"}
    PATIENT_ERASED = "patient_erased"  # identity, phone, description and synthesis text erased: {"reason"}
    WAVE_OPENED = "wave_opened"  # the request reaches its profession within a radius: {"wave", "radius_km"}
    UNPLACED = "unplaced"  # the patient is not placed: its whole profession at once, the operator is told
    PLACED = "placed"  # the online geocoder placed the patient after the opening: {"precision", "commune"}
    ADDRESS_NOT_LOCATED = "address_not_located"  # the address could not be placed: {"profession"}; the operator is told
