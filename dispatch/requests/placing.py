"""Where a request's patient is: placed while it opens (the local BAN), or when the online geocoder answers.

The answer of the Géoplateforme (the outbox sender's hook, its transaction) gives the request its place if it has
none yet: the waves still to open measure from it. If the community phase already opened unplaced, the offers made
stand (everyone of the profession has it); the place is recorded all the same. Not found, or the service unreachable
after every retry: the operator is told on the request's trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from dispatch.db import db
from dispatch.events import Actor, record_event
from dispatch.geo.normal import Typed, split_street
from dispatch.geo.places import Place
from dispatch.notify.geoplateforme import GeocodeResult
from dispatch.notify.models import OutboxMessage
from dispatch.requests.models import Request
from dispatch.requests.states import EventType

NOBODY = Actor(user_id=None, role=None, client=None)  # the sender acts for no one


def typed(patient: dict[str, Any]) -> Typed:
    """Return a patient's address as typed in a request's body (street and number optional, postcode, city)."""
    number, rep, street = split_street(patient.get("address"))
    return Typed(postcode=patient.get("postcode"), city=patient.get("city"), street=street, number=number, rep=rep)


def columns(place: Place | None) -> dict[str, Any]:
    """Return a request's columns for a place (all None when not placed)."""
    if place is None:
        return {"patient_lat": None, "patient_lon": None, "patient_precision": None, "patient_commune": None}
    return {
        "patient_lat": place.lat,
        "patient_lon": place.lon,
        "patient_precision": str(place.precision),
        "patient_commune": place.commune,
    }


def not_located(request: Request, *, now: datetime, actor: Actor = NOBODY) -> None:
    """Tell the operator (the request's trail) that its patient is not placed: everyone of the profession gets it."""
    record_event(request.id, type=EventType.ADDRESS_NOT_LOCATED, at=now, actor=actor, data={"profession": request.profession})


def patient_placed(message: OutboxMessage, outcome: str, now: datetime, info: dict[str, Any]) -> None:
    """Keep where the online geocoder placed a request's patient, or tell the operator it could not."""
    locked = select(Request).where(Request.id == message.request_id).with_for_update(of=Request)  # until commit
    request = db.session.scalar(locked.execution_options(populate_existing=True))
    if request is None or request.erased_at is not None or request.patient_lat is not None:
        return
    result: GeocodeResult | None = info.get("place")
    if outcome != "sent" or result is None or result.lat is None or result.lon is None:
        not_located(request, now=now)
        return
    request.patient_lat, request.patient_lon = result.lat, result.lon
    request.patient_precision, request.patient_commune = result.precision, result.commune
    record_event(
        request.id, type=EventType.PLACED, at=now, actor=NOBODY, data={"precision": result.precision, "commune": result.commune}
    )
