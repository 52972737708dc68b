"""The outbox of messages to send, and the dev inbox that stands in for phones and mailboxes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Model, UTCDateTime

CHANNELS = ("push", "sms", "mail", "directory")  # "directory": a lookup in the national directory, retried alike
# What became of a message (README, "Outbox statuses"); kept in the column by a CHECK constraint (migration 0021).
OUTBOX_STATUSES = (
    "pending",  # waits for its time
    "sending",  # claimed by a sender, under its lease
    "sent",
    "failed",  # given up (the request's trail says so when it matters)
    "dead_token",  # the push service no longer knows the device: replaced by an SMS
    "fallback",  # no device reached: replaced by an SMS
    "obsolete",  # an offer whose request was taken or cancelled before it could leave: not sent
    "over_budget",  # an SMS past its community's daily budget: not sent
    "expired",  # an offer whose request's deadline passed before it could leave: not sent, noted on the trail
)
_STATUS_IN = "status IN ({})".format(", ".join(f"'{status}'" for status in OUTBOX_STATUSES))


class OutboxMessage(Model):
    """One message to one recipient, written in the transaction that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_created_at", "created_at"),
        CheckConstraint(_STATUS_IN, name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    physician_id: Mapped[int | None] = mapped_column(ForeignKey("physicians.id"))
    address: Mapped[str | None] = mapped_column(String(254))  # phone or mail address
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_id: Mapped[str | None] = mapped_column(String(200), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(String(500))


class InboxMessage(Model):
    """What a phone, a patient or a mailbox would have received (embedded default only)."""

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(254))
    title: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SmsBudgetDay(Model):
    """The SMS the sender let go for one community on one local day, against the community's daily budget.

    Counted by the sender itself, whatever queued the message (offer, reset, invitation, patient), so that nothing
    bypasses it; `spent_at`: when the budget ran out that day (the admin is told then, once).
    """

    __tablename__ = "sms_budget_days"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    used: Mapped[int] = mapped_column(default=0)
    spent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
