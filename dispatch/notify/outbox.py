"""The outbox: messages written with the change that causes them, and delivered after commit."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from dispatch import metrics
from dispatch.db import db, kept_after_commit
from dispatch.notify.models import OutboxMessage
from dispatch.runtime import note_outbox_queued

log = logging.getLogger(__name__)


def enqueue(
    *,
    channel: str,
    kind: str,
    key: str,
    now: datetime,
    payload: dict[str, Any],
    request_id: int | None = None,
    physician_id: int | None = None,
    address: str | None = None,
) -> None:
    """Add a message to the outbox in the caller's transaction."""
    db.session.add(
        OutboxMessage(
            idempotency_key=key,
            channel=channel,
            kind=kind,
            request_id=request_id,
            physician_id=physician_id,
            address=address,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    note_outbox_queued(db.session())
    _ENQUEUED[0] += 1


_ENQUEUED = [0]  # messages this process has queued, so the sender knows whether a round added any


def enqueued_count() -> int:
    """Return how many messages this process has queued so far."""
    return _ENQUEUED[0]


def enqueued_since(count: int) -> bool:
    """Say whether this process has queued a message since enqueued_count() returned `count`."""
    return _ENQUEUED[0] != count


def enqueue_many(messages: list[dict[str, Any]], *, now: datetime) -> None:
    """Add many messages to the outbox in the caller's transaction, in one statement (a fan-out)."""
    if messages:
        _ENQUEUED[0] += len(messages)
        note_outbox_queued(db.session())
        # A Core INSERT of the table: the ORM's bulk path would cost more per row than the database does.
        db.session.execute(
            insert(OutboxMessage.__table__),  # type: ignore[arg-type]
            [
                {
                    "request_id": None,
                    "physician_id": None,
                    "address": None,
                    **message,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for message in messages
            ],
        )


def backoff_s(attempts: int, rng: Callable[[], float] = random.random, cap_s: int = 300) -> float:
    """Return the delay before the next attempt: capped exponential, with jitter."""
    base = min(cap_s, 2 ** max(attempts, 1))
    return float(base) * (0.5 + rng() / 2)


def claim_due(*, now: datetime, limit: int, lease_s: int) -> list[OutboxMessage]:
    """Take up to `limit` due messages for sending, in one statement; others skip what this one holds."""
    due = or_(
        (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == "sending") & (OutboxMessage.locked_until <= now),
    )
    candidates = select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        # A CTE is evaluated once: a LIMIT ... SKIP LOCKED subquery inside IN may be run again by
        # the planner and then hand out more than `limit` rows.
        chosen = candidates.with_for_update(skip_locked=True).cte("due")
        held = OutboxMessage.id == chosen.c.id
    else:  # SQLite has one writer at a time; the subquery is evaluated once, inside this statement
        held = OutboxMessage.id.in_(candidates.scalar_subquery())
    # One UPDATE ... RETURNING (PostgreSQL, SQLite >= 3.35): the due condition is checked again on
    # the row being written, so two senders never hold the same message, with no per-row round trip.
    # The whole rows come back: the sender needs no second read.
    claimed = list(
        db.session.scalars(
            update(OutboxMessage)
            .where(held, due)
            .values(status="sending", locked_until=now + timedelta(seconds=lease_s), attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
    )
    with kept_after_commit():  # the rows stand as claimed: no reload of each after the commit
        db.session.commit()
    return sorted(claimed, key=lambda message: message.id)


def mark_sent(ids: list[int], *, now: datetime) -> None:
    """Record that the messages held by this sender were all sent, in one statement."""
    if ids:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "sending")
            .values(status="sent", sent_at=now, locked_until=None, last_error=None)
            .execution_options(synchronize_session=False)
        )


def settle(
    message: OutboxMessage,
    *,
    status: str,
    now: datetime,
    max_attempts: int,
    error: str | None = None,
    provider_id: str | None = None,
    provider_status: str | None = None,
    retry: bool = False,
    rng: Callable[[], float] = random.random,
    not_before_s: float | None = None,
) -> None:
    """Record how an attempt ended: sent, or retried later (not before `not_before_s` if the provider said so),
    or given up."""
    message.locked_until = None
    message.last_error = (error or None) and error[:500]
    if provider_id:
        message.provider_id = provider_id
    if provider_status:
        message.provider_status = provider_status
    if retry and message.attempts < max_attempts:
        message.status = "pending"
        message.next_attempt_at = now + timedelta(seconds=max(backoff_s(message.attempts, rng), not_before_s or 0))
        return
    message.status = "failed" if retry else status
    if message.channel in ("sms", "mail") and message.status in ("sent", "failed"):
        metrics.count_sent(message.channel, message.status)
    if message.status == "sent":
        message.sent_at = now
    if message.status == "failed":
        log.warning(
            "outbox message %s (%s/%s) failed after %s attempts: %s",
            message.id,
            message.channel,
            message.kind,
            message.attempts,
            message.last_error,
        )


def due_now(*, now: datetime) -> tuple[dict[str, int], datetime | None]:
    """Return how many messages wait past their due time per channel, and the oldest due time among them."""
    rows = db.session.execute(
        select(OutboxMessage.channel, func.count(), func.min(OutboxMessage.next_attempt_at))
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .group_by(OutboxMessage.channel)
    ).all()
    oldest = min((row[2] for row in rows if row[2] is not None), default=None)
    return {channel: count for channel, count, _ in rows}, oldest
