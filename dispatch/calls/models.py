"""A patient's call triaged without opening a request (a request counts its own call)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Model, UTCDateTime

# What the operator did with a call that opened no request: sent to the 15 (SAMU), a renewal or certificate
# refused by the protocol, oriented elsewhere (pharmacy, programmed consultation...).
CALL_OUTCOMES = ("emergency_15", "renewal_refused", "other_orientation")


class Call(Model):
    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_community_received", "community_id", "received_at"),
        UniqueConstraint("operator_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))  # CALL_OUTCOMES
    motive: Mapped[str | None] = mapped_column(String(20))
