"""Use case of the synthesis: keep it, and queue it for the treating GP's secure mailbox."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.escalation.models import Event, Request
from dispatch.notify.outbox import enqueue
from dispatch.reports import rollup
from dispatch.synthesis.document import SynthesisDoc, build_pdf
from dispatch.synthesis.models import Synthesis

if TYPE_CHECKING:
    from dispatch.escalation.service import Actor


def treating_address(request: Request) -> str | None:
    """Return the MSSanté address of the request's treating GP, member or not."""
    if request.treating_physician_id is not None:
        physician = db.session.get(Physician, request.treating_physician_id)
        if physician is not None and physician.mssante:
            return physician.mssante
    return request.treating_mssante


def store_synthesis(*, request: Request, physician: Physician, text: str, now: datetime, actor: Actor) -> Synthesis:
    """Keep the synthesis and, when there is someone to send it to, queue it; the caller commits."""
    address = treating_address(request)
    if request.treating_physician_id == physician.id:
        status = "not_needed"
    elif address is None:
        status = "not_sendable"
    else:
        status = "pending"
    synthesis = Synthesis(request_id=request.id, physician_id=physician.id, text=text, written_at=now,
                          to_address=address, status=status)
    db.session.add(synthesis)
    before = rollup.request_key(request, request.community.timezone)
    request.synthesis_status = status  # the report's copy, and its rollup
    rollup.move_request(before, rollup.request_key(request, request.community.timezone))
    db.session.flush()
    db.session.add(Event(request_id=request.id, at=now, type="synthesis_written", actor_id=actor.user_id,
                         actor_role=actor.role, client=actor.client, data={"status": status}))
    if status == "pending":
        enqueue(channel="mail", kind="synthesis", key=f"synthesis:{synthesis.id}", now=now, request_id=request.id,
                address=address, payload={"synthesis_id": synthesis.id})
    return synthesis


def synthesis_doc(synthesis: Synthesis, request: Request) -> SynthesisDoc:
    """Return the report of a stored synthesis: same rows, same document."""
    author = db.session.get(Physician, synthesis.physician_id)
    assert author is not None
    return SynthesisDoc(
        synthesis_id=synthesis.id, request_id=request.id, community_name=request.community.name,
        written_at=synthesis.written_at, appointment_at=request.appointment_at, place=request.place,
        motive=request.motive, patient_last_name=request.patient_last_name,
        patient_first_name=request.patient_first_name, patient_birth_date=request.patient_birth_date,
        patient_sex=request.patient_sex, physician_name=author.user.name, physician_rpps=author.rpps,
        physician_kind=author.kind, treating_name=request.treating_name,
        treating_address=synthesis.to_address or "", text=synthesis.text,
        timezone=request.community.timezone)


def consultation_pdf(*, request: Request) -> bytes | None:
    """Return the consultation report PDF of a request, or None when no synthesis was written."""
    synthesis = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request.id))
    return build_pdf(synthesis_doc(synthesis, request)) if synthesis is not None else None
