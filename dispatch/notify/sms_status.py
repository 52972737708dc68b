"""Use case of the SMS status poller: ask the SMS service what became of the recent SMS whose delivery is not known
yet, for a service that reports it only when asked (OVHcloud: its callback is unsigned, dispatch.notify.ovh_sms)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import Outcome, SmsStatusPort
from dispatch.notify.service import PROVIDER_RANKS, Hooks, record_sms_status

log = logging.getLogger(__name__)

WATCHED_FOR = timedelta(hours=48)  # an SMS not delivered two days after it left will not be: OVH keeps trying less
PER_POLL = 100  # SMS asked about in one poll (one signed GET each); the rest at the next
# Statuses that may still move: delivery (rank 4) ends what a poll can learn.
OPEN_STATUSES = tuple(status for status, rank in PROVIDER_RANKS.items() if rank < 4)


class SmsStatusPoller:
    """Asks about the SMS still open, PER_POLL at a time, in turns (a cursor on the outbox's ids), so that a long
    queue is read to its end before it starts again."""

    def __init__(self, port: SmsStatusPort, *, provider: str, per_poll: int = PER_POLL) -> None:
        self.port = port
        self.provider = provider
        self.per_poll = per_poll
        self.after = 0  # the last outbox id asked about

    def poll(self, *, now: datetime, hooks: Hooks) -> int:
        """Read the statuses of up to `per_poll` open SMS and record those that moved; return how many moved."""
        rows = db.session.execute(
            select(OutboxMessage.id, OutboxMessage.provider_id)
            .where(
                OutboxMessage.channel == "sms",
                OutboxMessage.status == "sent",
                OutboxMessage.provider_id.is_not(None),
                OutboxMessage.sent_at >= now - WATCHED_FOR,
                or_(OutboxMessage.provider_status.is_(None), OutboxMessage.provider_status.in_(OPEN_STATUSES)),
                OutboxMessage.id > self.after,
            )
            .order_by(OutboxMessage.id)
            .limit(self.per_poll)
        ).all()
        db.session.rollback()  # no transaction held while the service answers
        self.after = rows[-1][0] if len(rows) == self.per_poll else 0
        moved = 0
        for _, provider_id in rows:
            result = self.port.status(str(provider_id))
            if result.outcome is Outcome.TRANSIENT:  # the service is away: the next poll asks again
                log.info("sms statuses: %s did not answer (%s); next poll", self.provider, result.detail)
                self.after = 0
                break
            status = result.extra.get("status")
            if result.outcome is not Outcome.SENT or not status:
                continue
            record_sms_status(
                provider_id=str(provider_id),
                status=status,
                error_code=result.extra.get("error_code"),
                now=now,
                hooks=hooks,
                provider=self.provider,
            )
            moved += 1
        return moved
