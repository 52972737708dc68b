"""Erase what identifies the patient of closed requests, keeping everything the report counts.

Kept: dates, state, source, motive, postcode, outcome, the treating GP's status, the synthesis's status, the rollups
and every event (the report reads them). Erased: the patient's names (blanked: NOT NULL columns), birth date, sex,
phone, city, street and place (commune, coordinates), the description, the call-back note, the synthesis's text (its
PDF is then 410), the addresses and texts of the request's messages, and the links of its offers' SMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, update

from dispatch.db import db
from dispatch.events import SYSTEM, Actor, Event
from dispatch.notify.models import OutboxMessage
from dispatch.requests.models import OfferLink, Request, Synthesis
from dispatch.requests.states import EventType

ERASED = EventType.PATIENT_ERASED.value  # the event each erased request gets: {"reason": "retention" | "subject_erasure"}
# Messages still on their way keep what they need to be sent (a closed request has none left, as a rule).
_IN_FLIGHT = ("pending", "sending")


def erase_requests(request_ids: Sequence[int], *, now: datetime, reason: str, actor: Actor = SYSTEM) -> int:
    """Erase the patient of these requests (not already erased), in the caller's transaction; return how many."""
    if not request_ids:
        return 0
    erased = db.session.execute(
        update(Request)
        .where(Request.id.in_(request_ids), Request.erased_at.is_(None))
        .values(
            patient_first_name="",
            patient_last_name="",
            patient_birth_date=None,
            patient_sex=None,
            patient_phone=None,
            patient_city=None,
            patient_address=None,
            patient_commune=None,
            patient_lat=None,  # at a house number, where the patient lives
            patient_lon=None,
            description=None,
            observations=None,
            callback_note=None,
            erased_at=now,
            version=Request.version + 1,  # a writer holding an older copy of the row fails instead of restoring it
        )
        .returning(Request.id)
        .execution_options(synchronize_session=False)
    )
    ids = list(erased.scalars())
    if not ids:
        return 0
    db.session.execute(
        update(Synthesis).where(Synthesis.request_id.in_(ids)).values(text="").execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.request_id.in_(ids), OutboxMessage.status.not_in(_IN_FLIGHT))
        .values(address=None, payload={})
        .execution_options(synchronize_session=False)
    )
    db.session.execute(delete(OfferLink).where(OfferLink.request_id.in_(ids)).execution_options(synchronize_session=False))
    db.session.execute(
        insert(Event),
        [
            {
                "request_id": request_id,
                "at": now,
                "type": ERASED,
                "actor_id": actor.user_id,
                "actor_role": actor.role,
                "client": actor.client,
                "data": {"reason": reason},
            }
            for request_id in ids
        ],
    )
    # Requests the session holds are read again: none shows the erased identity afterwards.
    for request in [obj for obj in db.session.identity_map.values() if isinstance(obj, Request | Synthesis)]:
        db.session.expire(request)
    return len(ids)
