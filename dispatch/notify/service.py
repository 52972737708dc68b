"""Use case of the sender: deliver what is due in the outbox through the ports."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from dispatch.communities.models import Device, Physician
from dispatch.db import db
from dispatch.escalation.machine import OPEN_STATES
from dispatch.escalation.models import Event, Request
from dispatch.notify import outbox
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import MailPort, Outcome, PushMessage, PushPort, SmsMessage, SmsPort
from dispatch.synthesis.models import Synthesis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Senders:
    """The ports and settings the sender needs."""

    push: PushPort
    sms: SmsPort
    mail: MailPort
    build_mail: Callable[[OutboxMessage], Any]
    max_attempts: int = 8
    lease_s: int = 30
    sms_callback: str | None = None
    rng: Callable[[], float] = random.random


def deliver_pending(*, now: datetime, senders: Senders, limit: int = 200) -> int:
    """Send every due outbox message once; return how many were attempted."""
    total = 0
    while True:
        claims = outbox.claim_due(now=now, limit=limit, lease_s=senders.lease_s)
        for claim in claims:
            message = db.session.get(OutboxMessage, claim.id)
            if message is None:
                continue
            try:
                _deliver(message, now=now, senders=senders)
            except Exception:  # an adapter bug must not stop the queue
                log.exception("outbox message %s raised while sending", message.id)
                outbox.settle(message, status="failed", now=now, max_attempts=senders.max_attempts,
                              error="internal error while sending", retry=True, rng=senders.rng)
            db.session.commit()
        total += len(claims)
        if len(claims) < limit:
            return total


def _deliver(message: OutboxMessage, *, now: datetime, senders: Senders) -> None:
    if message.channel == "push":
        _deliver_push(message, now=now, senders=senders)
    elif message.channel == "sms":
        result = senders.sms.send(SmsMessage(to=message.address or "", body=message.payload["body"],
                                             idempotency_key=message.idempotency_key,
                                             status_callback=senders.sms_callback))
        outbox.settle(message, status=_status(result.outcome), now=now, max_attempts=senders.max_attempts,
                      error=result.detail, provider_id=result.provider_id, provider_status=result.extra.get("status"),
                      retry=result.outcome is Outcome.TRANSIENT, rng=senders.rng)
    elif message.channel == "mail":
        _deliver_mail(message, now=now, senders=senders)
    else:
        outbox.settle(message, status="failed", now=now, max_attempts=0, error=f"unknown channel {message.channel}")


def _status(outcome: Outcome) -> str:
    return "sent" if outcome is Outcome.SENT else "failed"


def _deliver_push(message: OutboxMessage, *, now: datetime, senders: Senders) -> None:
    payload = message.payload
    request = db.session.get(Request, message.request_id) if message.request_id else None
    if payload["data"]["type"] == "offer" and (request is None or request.state not in OPEN_STATES):
        # Taken, cancelled or expired before we could send: a late offer would mislead.
        outbox.settle(message, status="obsolete", now=now, max_attempts=senders.max_attempts)
        return
    tokens = tuple(db.session.scalars(select(Device.token).where(Device.physician_id == message.physician_id)))
    if not tokens:
        _fallback(message, now=now, senders=senders, reason="no device")
        return
    push = PushMessage(tokens=tokens, data=payload["data"], collapse_key=payload["collapse_key"],
                       expires_at=datetime.fromisoformat(payload["expires_at"]) if payload.get("expires_at") else None,
                       title=payload.get("title"), body=payload.get("body"), urgent=payload.get("urgent", True))
    result = senders.push.send(push)
    if result.dead_tokens:
        from dispatch.communities.service import device_key  # local: communities imports notify

        keys = [device_key(token) for token in result.dead_tokens]
        db.session.execute(delete(Device).where(Device.token_key.in_(keys)))
    if result.sent_tokens:
        outbox.settle(message, status="sent", now=now, max_attempts=senders.max_attempts, error=result.detail or None)
    elif result.outcome is Outcome.TRANSIENT:
        outbox.settle(message, status="sent", now=now, max_attempts=senders.max_attempts, error=result.detail,
                      retry=True, rng=senders.rng)
        if message.status == "failed":
            _fallback(message, now=now, senders=senders, reason="push failed")
    elif set(result.dead_tokens) == set(tokens):
        _fallback(message, now=now, senders=senders, reason="dead tokens", status="dead_token")
    else:
        outbox.settle(message, status="failed", now=now, max_attempts=senders.max_attempts, error=result.detail)


def _fallback(message: OutboxMessage, *, now: datetime, senders: Senders, reason: str, status: str = "fallback") -> None:
    """Replace an offer's push by an SMS when the physician cannot be reached on a phone app."""
    physician = db.session.get(Physician, message.physician_id)
    sms_body = message.payload.get("sms")
    phone = physician.user.phone if physician else None
    if not sms_body or not phone:
        outbox.settle(message, status="failed" if sms_body else status, now=now, max_attempts=0,
                      error=f"{reason}; no SMS fallback" if sms_body else reason)
        return
    outbox.settle(message, status=status, now=now, max_attempts=0, error=reason)
    outbox.enqueue(channel="sms", kind=f"{message.kind}_sms", key=f"{message.idempotency_key}:sms", now=now,
                   payload={"body": sms_body}, request_id=message.request_id, physician_id=message.physician_id,
                   address=phone)


def _deliver_mail(message: OutboxMessage, *, now: datetime, senders: Senders) -> None:
    email = senders.build_mail(message)
    result = senders.mail.send(email)
    outbox.settle(message, status=_status(result.outcome), now=now, max_attempts=senders.max_attempts,
                  error=result.detail, provider_id=result.provider_id, retry=result.outcome is Outcome.TRANSIENT,
                  rng=senders.rng)
    if message.status not in ("sent", "failed"):
        return
    synthesis_id = message.payload.get("synthesis_id")
    if synthesis_id:
        synthesis = db.session.get(Synthesis, synthesis_id)
        if synthesis is not None:
            synthesis.status = message.status
    if message.request_id:
        event_type = f"{message.kind}_{message.status}"
        data = {"to": message.address, "attempts": message.attempts}
        if message.status == "failed":
            data["error"] = message.last_error
        db.session.add(Event(request_id=message.request_id, at=now, type=event_type, data=data))
