"""A data subject's requests to their community (GDPR articles 15 to 17): access, rectification, erasure.

Each is recorded in the access trail, one line per request concerned, with the reference the coordinator or operator
gives it (their register's number for the patient's letter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from dispatch import policy
from dispatch.auth.models import User
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.events import Actor, Event, record_event
from dispatch.phones import normalize_phone
from dispatch.policy import Action
from dispatch.privacy.document import subject_access_pdf
from dispatch.privacy.erasure import erase_requests
from dispatch.requests import disclosure
from dispatch.requests.engine import load_request
from dispatch.requests.models import Request, Synthesis
from dispatch.requests.returning import normalized_name
from dispatch.requests.states import OPEN_STATES, EventType, State

OPEN_REQUEST = (
    "open_request",
    "Une demande de ce patient est encore en cours : l'effacement attend qu'elle soit close (consultation faite, "
    "expirée ou annulée).",
)
ERASED = ("erased", "L'identité du patient de cette demande a été effacée : elle ne peut plus être corrigée.")
RECTIFIABLE = ("first_name", "last_name", "birth_date", "sex", "phone")


@dataclass(frozen=True)
class Subject:
    """Who asks: the patient's names and birth date, as on their letter."""

    last_name: str
    first_name: str
    birth_date: date

    def matches(self, request: Request) -> bool:
        return (
            request.patient_birth_date == self.birth_date
            and normalized_name(request.patient_last_name) == normalized_name(self.last_name)
            and normalized_name(request.patient_first_name) == normalized_name(self.first_name)
        )


def subject_requests(*, community_id: int, subject: Subject) -> list[Request]:
    """Return the community's requests of this patient not yet erased (names compared without case, accents, spaces)."""
    query = (
        select(Request)
        .where(Request.community_id == community_id, Request.patient_birth_date == subject.birth_date, Request.erased_at.is_(None))
        .order_by(Request.opened_at, Request.id)
    )
    return [request for request in db.session.scalars(query) if subject.matches(request)]


def subject_access(
    *, user: User, community_id: int, subject: Subject, reference: str, now: datetime, client: str | None
) -> list[dict[str, Any]]:
    """Return the patient's requests in full with their events and synthesis text; each read recorded with `reference`."""
    found = _community_requests(user, community_id, subject)
    shown = disclosure.hand_over(
        user,
        found,
        action=Action.SUBJECT_REQUESTS,
        community_id=community_id,
        what="subject_access",
        reference=reference,
        now=now,
        client=client,
    )
    texts = dict(
        db.session.execute(
            select(Synthesis.request_id, Synthesis.text).where(Synthesis.request_id.in_([r.id for r in found]))
        ).all()
    )
    for item in shown:
        item["events"] = _events(item["id"])
        item["synthesis_text"] = texts.get(item["id"])
    return shown


def subject_access_document(
    *, user: User, community_id: int, subject: Subject, reference: str, now: datetime, client: str | None
) -> tuple[str, bytes]:
    """Return the file name and the PDF of the patient's data, to hand over; the reads recorded as for the JSON."""
    shown = subject_access(user=user, community_id=community_id, subject=subject, reference=reference, now=now, client=client)
    community = db.session.get(Community, community_id)
    assert community is not None
    body = subject_access_pdf(
        community_name=community.name,
        zone=community.timezone,
        subject={"last_name": subject.last_name, "first_name": subject.first_name, "birth_date": subject.birth_date},
        requests=shown,
        reference=reference,
        now=now,
    )
    return f"donnees-patient-{community_id}-{now:%Y%m%d}.pdf", body


@dataclass(frozen=True)
class ErasurePreview:
    """What an erasure would reach: the patient's requests not yet erased, and how many of them are still running."""

    found: int
    running: int


def erasure_preview(*, user: User, community_id: int, subject: Subject, now: datetime) -> ErasurePreview:
    """Count the patient's requests an erasure would reach and those still running (the confirmation page's words)."""
    found = _community_requests(user, community_id, subject)
    return ErasurePreview(found=len(found), running=sum(1 for request in found if _running(request, now)))


def subject_erasure(*, user: User, community_id: int, subject: Subject, reference: str, now: datetime, client: str | None) -> int:
    """Erase the patient's identity from every request of theirs; 409 open_request while one is still running."""
    found = _community_requests(user, community_id, subject)
    if any(_running(request, now) for request in found):
        raise Problem(409, *OPEN_REQUEST)
    ids = [request.id for request in found]
    disclosure.note_subject_request(user, ids, what="subject_erasure", reference=reference, now=now, client=client)
    erased = erase_requests(ids, now=now, reason="subject_erasure", actor=Actor(user.id, "coordinator", client))
    db.session.commit()
    return erased


def rectify_patient(
    *, user: User, request_id: int, changes: dict[str, Any], reference: str | None, now: datetime, client: str | None
) -> dict[str, Any]:
    """Correct the patient's identity or phone on a request (its operators); the change is an event, the read a trail line."""
    request = load_request(request_id)
    disclosure.require(user, Action.RECTIFY, request)
    if request.erased_at is not None:
        raise Problem(409, *ERASED)
    if "phone" in changes and changes["phone"]:
        try:
            changes["phone"] = normalize_phone(changes["phone"], request.community.region)
        except ValueError:
            raise Problem(
                422, "invalid", "Certains champs sont invalides.", errors={"phone": ["Numéro de téléphone invalide."]}
            ) from None
    changed = [name for name in RECTIFIABLE if name in changes and getattr(request, f"patient_{name}") != changes[name]]
    for name in changed:
        setattr(request, f"patient_{name}", changes[name])
    if changed:
        # The fields' names only: the event outlives the identity (it is erased with the request's retention).
        data: dict[str, Any] = {"fields": changed} | ({"reference": reference} if reference else {})
        record_event(request.id, type=EventType.PATIENT_RECTIFIED, at=now, actor=Actor(user.id, "operator", client), data=data)
    shown = disclosure.hand_over(
        user,
        [request],
        action=Action.RECTIFY,
        community_id=request.community_id,
        what="rectification",
        reference=reference,
        now=now,
        client=client,
    )
    return shown[0]


def _community_requests(user: User, community_id: int, subject: Subject) -> list[Request]:
    """Return the patient's requests in the community, if the user handles its data subjects' requests (else 403/404)."""
    policy.require(user, Action.SUBJECT_REQUESTS, community_id=community_id)
    return subject_requests(community_id=community_id, subject=subject)


def _running(request: Request, now: datetime) -> bool:
    """Tell whether a request is still under way: open, or accepted with its appointment still to come."""
    if request.state in OPEN_STATES:
        return True
    return request.state == State.ACCEPTED and request.appointment_at is not None and request.appointment_at > now


def _events(request_id: int) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Event, User).outerjoin(User, User.id == Event.actor_id).where(Event.request_id == request_id).order_by(Event.id)
    )
    return [
        {
            "id": event.id,
            "at": event.at,
            "type": event.type,
            "data": event.data,
            "actor": None if actor is None else {"id": actor.id, "name": actor.name, "role": event.actor_role},
        }
        for event, actor in rows
    ]
