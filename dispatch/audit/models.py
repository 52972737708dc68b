"""One row per read of a patient's identity: append-only, never updated; deleted after the community's trail_days."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Model, UTCDateTime


class AccessRecord(Model):
    """Someone was shown the identity of a request's patient."""

    __tablename__ = "access_records"
    __table_args__ = (Index("ix_access_records_request_id_id", "request_id", "id"), Index("ix_access_records_at", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))
    what: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    client: Mapped[str | None] = mapped_column(String(200))
    # A data subject's request (access, rectification, erasure): the coordinator's or operator's reference for it.
    reference: Mapped[str | None] = mapped_column(String(100))
