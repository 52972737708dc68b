"""Use case of the synthesis: keep it, and queue it for the treating GP's secure mailbox."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.escalation.models import Event, Request
from dispatch.notify.outbox import enqueue
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
    db.session.flush()
    db.session.add(Event(request_id=request.id, at=now, type="synthesis_written", actor_id=actor.user_id,
                         actor_role=actor.role, client=actor.client, data={"status": status}))
    if status == "pending":
        enqueue(channel="mail", kind="synthesis", key=f"synthesis:{synthesis.id}", now=now, request_id=request.id,
                address=address, payload={"synthesis_id": synthesis.id})
    return synthesis
