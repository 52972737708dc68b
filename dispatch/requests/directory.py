"""The national directory's answer about an outside treating GP, applied (the outbox sender's hook, its transaction).

Found: the address is kept in the community's directory entry (unless an operator typed one meanwhile: theirs
wins), given to the requests of the last WAITING days that had none, and a synthesis that could not be sent for
want of it is sent now; an accepted request's "patient taken" notice too. Not found, or the directory
unreachable after every retry: the entry says so and those requests' trails tell the operator.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from dispatch.communities.models import DirectoryEntry
from dispatch.db import db
from dispatch.events import Actor, record_event
from dispatch.notify.annuaire import Mailbox
from dispatch.notify.models import OutboxMessage
from dispatch.requests.messages import send_synthesis, tell_outside_treating
from dispatch.requests.models import Request, Synthesis
from dispatch.requests.states import EventType, State

NOBODY = Actor(user_id=None, role=None, client=None)  # the sender acts for no one
WAITING = timedelta(days=7)  # requests older than this keep no address they lacked (their synthesis stays unsent)


def _waiting(entry: DirectoryEntry, now: datetime) -> list[Request]:
    """Return the requests naming this GP that have no address yet, each locked until commit, as committed."""
    query = (
        select(Request)
        .where(
            Request.treating_directory_id == entry.id,
            Request.treating_mssante.is_(None),
            Request.treating_physician_id.is_(None),
            Request.opened_at >= now - WAITING,
        )
        .order_by(Request.id)
        .with_for_update(of=Request)
    )
    return list(db.session.scalars(query.execution_options(populate_existing=True)))


def _give_address(request: Request, mailbox: Mailbox, address: str, *, now: datetime) -> None:
    """Give a request its treating GP's address; send what waited for it (the synthesis, the 'taken' notice)."""
    request.treating_mssante = address
    data: dict[str, Any] = {"to": address, "source": "annuaire", "kind": mailbox.kind}
    synthesis = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request.id, Synthesis.status == "not_sendable"))
    if synthesis is not None:
        synthesis.to_address, synthesis.status = address, "pending"
        request.synthesis_status = "pending"  # the report's copy (the rollup follows)
        send_synthesis(synthesis, now=now)
        data["synthesis"] = "pending"
    elif request.state == State.ACCEPTED and tell_outside_treating(request, now=now):
        data["taken"] = "pending"  # accepted while the address was unknown: the GP learns who took the patient
    record_event(request.id, type=EventType.MSSANTE_FOUND, at=now, actor=NOBODY, data=data)


def mailbox_answered(message: OutboxMessage, outcome: str, now: datetime, info: dict[str, Any]) -> None:
    """Keep what the directory said about a GP's MSSanté box, and give it to the requests that wait for it."""
    entry = db.session.get(DirectoryEntry, message.payload.get("entry_id"))
    if entry is None:
        return
    mailbox: Mailbox | None = info.get("mailbox")
    if outcome != "sent":
        entry.lookup_status = "failed"
        for request in _waiting(entry, now):
            record_event(request.id, type=EventType.MSSANTE_LOOKUP_FAILED, at=now, actor=NOBODY, data={"error": message.last_error})
        return
    entry.looked_up_at = now
    if mailbox is None:
        entry.lookup_status = "not_found"
        if entry.mssante_source == "annuaire":  # the box the directory gave is gone from it: it would bounce
            entry.mssante = entry.mssante_type = entry.mssante_source = None
        for request in _waiting(entry, now):
            record_event(request.id, type=EventType.MSSANTE_NOT_FOUND, at=now, actor=NOBODY, data={"rpps": entry.rpps})
        return
    entry.lookup_status = "found"
    if not entry.mssante or entry.mssante_source == "annuaire":  # an address an operator typed meanwhile wins
        entry.mssante, entry.mssante_source, entry.mssante_type = mailbox.address, "annuaire", mailbox.kind
        entry.updated_at = now
    for request in _waiting(entry, now):
        _give_address(request, mailbox, entry.mssante or mailbox.address, now=now)
