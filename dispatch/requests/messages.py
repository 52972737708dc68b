"""The messages a request's decisions send: offers and withdrawals to phones, SMS to the patient and the operator,
secure mail to the treating GP. Each is an outbox row in the caller's transaction; none carries the patient's identity
to a physician.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from dispatch import texts
from dispatch.auth import trail
from dispatch.auth.models import User
from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.events import Actor, Event, record_event
from dispatch.notify.models import OutboxMessage
from dispatch.notify.outbox import enqueue
from dispatch.requests.decisions import current_deadline, iso
from dispatch.requests.models import Request, Synthesis
from dispatch.requests.states import EventType


def round_suffix(request: Request) -> str:
    """Return what names this round's messages of a request: nothing at first, then the number of hand-backs so far.

    A handed-back request is offered, withdrawn and accepted again: the new messages must not reuse the keys of
    the first round's.
    """
    return f":{request.releases}" if request.releases else ""


def offer_payload(request: Request, *, phase: str, distance_km: float | None = None) -> dict[str, object]:
    """Return the push of an offer: request id, phase, motive, modality, how far and which commune, deadline; never the
    patient."""
    tz = request.community.timezone
    deadline = _deadline(request, phase)
    commune = commune_of(request)
    title, body = texts.offer_push(
        motive=request.motive,
        city=commune,
        deadline=deadline,
        tz=tz,
        profession=request.profession,
        acts=request.acts,
        distance_km=distance_km,
        modality=request.modality,
    )
    link = f"{current_app.config['DISPATCH_PUBLIC_URL']}/m/requests/{request.id}"
    return {
        "data": {
            "type": "offer",
            "request_id": str(request.id),
            "phase": phase,
            "motive": request.motive,
            "profession": request.profession,
            "modality": request.modality,
            "city": commune or "",
            "where": texts.where(distance_km=distance_km, commune=commune) or "",
            "expires_at": iso(deadline),
        },
        "title": title,
        "body": body,
        "urgent": True,
        "collapse_key": f"request-{request.id}",
        "expires_at": deadline.isoformat(),
        "sms": offer_sms(request, phase=phase, link=link, distance_km=distance_km),
    }


def commune_of(request: Request) -> str | None:
    """Return the commune an offer names: where the geocoder placed the patient, else the city typed."""
    return getattr(request, "patient_commune", None) or request.patient_city


def _deadline(request: Request, phase: str) -> datetime:
    return current_deadline(phase, request.exclusive_until, request.expires_at) or request.expires_at


def offer_sms(request: Request, *, phase: str, link: str, distance_km: float | None = None) -> str:
    """Return the SMS of an offer for a physician without a working device, with the link it opens."""
    return texts.offer_sms(
        request_id=request.id,
        motive=request.motive,
        city=commune_of(request),
        deadline=_deadline(request, phase),
        tz=request.community.timezone,
        link=link,
        profession=request.profession,
        acts=request.acts,
        distance_km=distance_km,
        modality=request.modality,
    )


def offer_pushes(
    request: Request, physician_ids: list[int], *, phase: str, distances: dict[int, float] | None = None
) -> list[dict[str, Any]]:
    """Return the pushes of new offers to these physicians (each with how far the patient is), keyed per round."""
    payloads: dict[str, dict[str, object]] = {}  # one per distance band: a fan-out renders a few texts, not hundreds
    rows = []
    for physician_id in physician_ids:
        distance = (distances or {}).get(physician_id)
        band = texts.distance_band(distance) if distance is not None else ""
        if band not in payloads:
            payloads[band] = offer_payload(request, phase=phase, distance_km=distance)
        rows.append(
            {
                "channel": "push",
                "kind": "offer",
                "idempotency_key": f"offer:{request.id}:{physician_id}{round_suffix(request)}",
                "request_id": request.id,
                "physician_id": physician_id,
                "payload": payloads[band],
            }
        )
    return rows


def withdrawal_pushes(request: Request, physician_ids: list[int], *, reason: str) -> list[dict[str, Any]]:
    """Return the silent pushes that clear a withdrawn offer from these physicians' phones, keyed per round."""
    data = {
        "type": "offer_withdrawn",
        "request_id": str(request.id),
        "phase": request.state,
        "motive": request.motive,
        "city": commune_of(request) or "",
        "expires_at": iso(request.expires_at),
        "reason": reason,
    }
    payload = {"data": data, "urgent": False, "collapse_key": f"request-{request.id}", "expires_at": request.expires_at.isoformat()}
    return [
        {
            "channel": "push",
            "kind": "offer_withdrawn",
            "request_id": request.id,
            "idempotency_key": f"withdraw:{request.id}:{physician_id}{round_suffix(request)}",
            "physician_id": physician_id,
            "payload": payload,
        }
        for physician_id in physician_ids
    ]


def _text(request: Request, *, kind: str, key: str, address: str | None, body: str, now: datetime) -> None:
    """Queue one SMS about a request, once per round of it (`key`, the request's id and its round make the outbox key)."""
    enqueue(
        channel="sms",
        kind=kind,
        key=f"{key}:{request.id}{round_suffix(request)}",
        now=now,
        request_id=request.id,
        address=address,
        payload={"body": body},
    )


def tell_patient(request: Request, *, now: datetime) -> None:
    """Queue the SMS of the appointment to the patient, once per round."""
    physician = db.session.get(Physician, request.accepted_by_id)
    assert physician is not None and request.appointment_at is not None
    if request.teleconsultation_url:
        body = texts.patient_teleconsultation_sms(
            physician_name=physician.user.name,
            appointment_at=request.appointment_at,
            tz=request.community.timezone,
            now=now,
            link=request.teleconsultation_url,
        )
    else:
        body = texts.patient_sms(
            physician_name=physician.user.name,
            appointment_at=request.appointment_at,
            place=request.place,
            tz=request.community.timezone,
            now=now,
            practice_phone=physician.practice_phone,
        )
    _text(request, kind="patient_appointment", key="patient", address=request.patient_phone, body=body, now=now)


def tell_operator(request: Request, *, now: datetime, reason: str) -> None:
    """Text the operator who opened the request that it expired or was handed back (when they have a phone)."""
    operator = db.session.get(User, request.opened_by_id)
    if operator is None or not operator.phone:
        return  # the console shows the expiry or the hand-back; there is no phone to text
    if reason == EventType.RELEASED:
        body = texts.operator_released_sms(request_id=request.id, motive=request.motive)
        kind, key = "released_operator", "released-operator"
    elif request.requester_id is not None:  # a requester's own request: told in their words, the patient not named
        body = texts.requester_expired_sms(request_id=request.id)
        kind, key = "expired_requester", "expired"
    else:
        body = texts.operator_expired_sms(request_id=request.id, motive=request.motive)
        kind, key = "expired_operator", "expired"
    _text(request, kind=kind, key=key, address=operator.phone, body=body, now=now)


def tell_requester(request: Request, *, now: datetime) -> None:
    """Text the requester who opened the request that it was accepted (who, when, the link), once per round."""
    requester = db.session.get(User, request.opened_by_id)
    physician = db.session.get(Physician, request.accepted_by_id)
    if requester is None or not requester.phone or physician is None or request.appointment_at is None:
        return  # their page shows the acceptance; there is no phone to text
    body = texts.requester_accepted_sms(
        request_id=request.id,
        physician_name=physician.user.name,
        appointment_at=request.appointment_at,
        place=request.place,
        tz=request.community.timezone,
        now=now,
        link=request.teleconsultation_url,
    )
    _text(request, kind="accepted_requester", key="accepted-requester", address=requester.phone, body=body, now=now)


def tell_patient_released(request: Request, *, now: datetime) -> None:
    """Queue the SMS telling the patient their appointment is cancelled and another doctor is being sought."""
    _text(
        request, kind="patient_released", key="released", address=request.patient_phone, body=texts.patient_released_sms(), now=now
    )


def tell_outside_treating(request: Request, *, now: datetime) -> bool:
    """Queue the secure message telling an outside treating GP who took their patient, once per round; say if queued.

    Also called when the GP's address arrives after the acceptance (requests.directory).
    """
    key = f"taken:{request.id}{round_suffix(request)}"  # accepted again after a hand-back: a message of its own
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)) is not None:
        return False
    enqueue(
        channel="mail",
        kind="taken",
        key=key,
        now=now,
        request_id=request.id,
        address=request.treating_mssante,
        payload={"request_id": request.id},
    )
    return True


SENDS = Actor(user_id=None, role="system", client="synthesis")
RECENT_ADDRESS = timedelta(days=30)  # a synthesis to an address changed more recently than this is noted on the trail


def _address_changed(request: Request, address: str, *, now: datetime) -> dict[str, Any] | None:
    """Return when and by whom (role) the treating GP's address became `address` within RECENT_ADDRESS, if it did.

    A member GP's address is changed on their account (its trail); an outside GP's, by an operator opening a request
    that names them with a new address (that request's `treating_address_changed` event).
    """
    since = now - RECENT_ADDRESS
    if request.treating_physician_id is not None:
        user_id = db.session.scalar(select(Physician.user_id).where(Physician.id == request.treating_physician_id))
        change = trail.last_change(user_id=user_id, field="mssante", to=address, since=since) if user_id else None
        if change is None:
            return None
        return {"changed_at": iso(change.at), "changed_by": change.actor_role}
    if request.treating_directory_id is None:
        return None
    naming = select(Request.id).where(Request.treating_directory_id == request.treating_directory_id)
    query = (
        select(Event)
        .where(Event.type == EventType.TREATING_ADDRESS_CHANGED, Event.at >= since, Event.request_id.in_(naming))
        .order_by(Event.id.desc())
    )
    for event in db.session.scalars(query):
        after = (event.data or {}).get("after")
        if isinstance(after, str) and after.lower() == address.lower():
            return {"changed_at": iso(event.at), "changed_by": event.actor_role}
    return None


def send_synthesis(synthesis: Synthesis, *, now: datetime) -> None:
    """Queue a synthesis for its treating GP's secure mailbox (also when the GP's address arrives late: requests.directory).

    Going to an address changed in the last 30 days, it is noted on the request's trail (synthesis_to_new_address).
    """
    request = db.session.get(Request, synthesis.request_id)
    if request is not None and synthesis.to_address:
        changed = _address_changed(request, synthesis.to_address, now=now)
        if changed is not None:
            data = {"to": synthesis.to_address, **changed}
            record_event(request.id, type=EventType.SYNTHESIS_TO_NEW_ADDRESS, at=now, actor=SENDS, data=data)
    enqueue(
        channel="mail",
        kind="synthesis",
        key=f"synthesis:{synthesis.id}",
        now=now,
        request_id=synthesis.request_id,
        address=synthesis.to_address,
        payload={"synthesis_id": synthesis.id},
    )
