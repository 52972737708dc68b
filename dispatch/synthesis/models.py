"""The synthesis a physician writes after seeing the patient."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import UTCDateTime, db

# pending: waits in the outbox; sent; failed; not_sendable: no treating GP or no address;
# not_needed: the treating GP saw the patient themselves.
SYNTHESIS_STATUSES = ("pending", "sent", "failed", "not_sendable", "not_needed")


class Synthesis(db.Model):
    __tablename__ = "syntheses"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    physician_id: Mapped[int] = mapped_column(ForeignKey("physicians.id"))
    text: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    to_address: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(20), index=True)
