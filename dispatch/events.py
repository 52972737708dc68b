"""The request's audit trail: who acted, and the append-only events they caused (a leaf: imports only db)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Model, UTCDateTime, db


@dataclass(frozen=True)
class Actor:
    """Who acts, and from which client, for the audit trail."""

    user_id: int | None
    role: str | None
    client: str | None = None


SYSTEM = Actor(user_id=None, role="system", client="tick")
SENDER = Actor(user_id=None, role="system", client="outbox")


class Event(Model):
    """One transition of a request, or what became of one of its messages: never updated, never deleted."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_request_at", "request_id", "id"),
        Index("ix_events_type_at", "type", "at"),
        Index("ix_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    client: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def record_event(request_id: int, *, type: str, at: datetime, actor: Actor = SYSTEM, data: dict[str, Any] | None = None) -> Event:
    """Append an event to a request's trail, in the caller's transaction."""
    event = Event(
        request_id=request_id,
        at=at,
        type=type[:40],
        actor_id=actor.user_id,
        actor_role=actor.role,
        client=(actor.client or "")[:200] or None,
        data=data or {},
    )
    db.session.add(event)
    return event
