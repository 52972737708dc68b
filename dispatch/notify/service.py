"""Use cases of the sender: deliver what is due in the outbox through the ports, and record provider news."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update

from dispatch.communities.models import Device, Physician
from dispatch.db import db
from dispatch.escalation.machine import OPEN_STATES
from dispatch.escalation.models import Event, Request
from dispatch.notify import outbox
from dispatch.notify.models import OutboxMessage
from dispatch.notify.phones import normalize_phone
from dispatch.notify.ports import MailPort, Outcome, PushMessage, PushPort, PushResult, SmsMessage, SmsPort
from dispatch.reports import rollup
from dispatch.synthesis.models import Synthesis

log = logging.getLogger(__name__)

MAX_ROUNDS = 50  # a round's fallbacks are due at once; bounded so a bug cannot spin forever
# Twilio's message statuses in the order they can follow each other; the last rank is final.
PROVIDER_RANKS = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4,
                  "undelivered": 4, "failed": 4, "canceled": 4, "read": 5}


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
    """Send every due outbox message once (pushes in shared batches); return how many were attempted."""
    # 200 rows a round, sent 100 FCM calls at a time: a round ends within its 30 s lease even if every
    # call took its full 10 s timeout; a department's fan-out (~800) is four rounds.
    total = 0
    for _ in range(MAX_ROUNDS):
        started = outbox.enqueued_count()
        messages = claims = outbox.claim_due(now=now, limit=limit, lease_s=senders.lease_s)
        if not claims:
            break
        pushes = [m for m in messages if m.channel == "push"]
        others = [m for m in messages if m.channel != "push"]  # read now: each commit expires the rows
        if pushes:
            _guarded(pushes, _deliver_pushes, now=now, senders=senders)
        for message in others:
            _guarded([message], _deliver_each, now=now, senders=senders)
        total += len(claims)
        if len(claims) < limit and not outbox.enqueued_since(started):
            # Nothing more was due when we claimed and this round queued no fallback: a message written
            # since comes with its own wake-up (and the sender looks every few seconds), so no empty claim.
            break
    return total


def _guarded(messages: list[OutboxMessage], work: Callable[..., None], *, now: datetime, senders: Senders) -> None:
    """Run one delivery step on `messages` and commit; an adapter bug must not stop the queue."""
    ids = [message.id for message in messages]
    try:
        work(messages, now=now, senders=senders)
        db.session.commit()
    except Exception:
        log.exception("outbox messages %s raised while sending", ids[:10])
        db.session.rollback()
        for message in db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))):
            if message.status == "sending":
                outbox.settle(message, status="failed", now=now, max_attempts=senders.max_attempts,
                              error="internal error while sending", retry=True, rng=senders.rng)
        db.session.commit()


def _deliver_each(messages: list[OutboxMessage], *, now: datetime, senders: Senders) -> None:
    for message in messages:
        if message.channel == "sms":
            _deliver_sms(message, now=now, senders=senders)
        elif message.channel == "mail":
            _deliver_mail(message, now=now, senders=senders)
        else:
            outbox.settle(message, status="failed", now=now, max_attempts=0,
                          error=f"unknown channel {message.channel}")


def _stale_phase(message: OutboxMessage, now: datetime) -> bool:
    """Say whether an offer's push announces a deadline that has already passed."""
    if message.payload["data"]["type"] != "offer" or not message.payload.get("expires_at"):
        return False
    return datetime.fromisoformat(message.payload["expires_at"]) <= now


def _status(outcome: Outcome) -> str:
    return "sent" if outcome is Outcome.SENT else "failed"


def _deliver_pushes(messages: list[OutboxMessage], *, now: datetime, senders: Senders) -> None:
    """Send a round's pushes through one port call, then settle each recipient's row."""
    request_ids = {m.request_id for m in messages if m.request_id is not None}
    open_ids = set(db.session.scalars(select(Request.id).where(Request.id.in_(request_ids),
                                                                Request.state.in_(OPEN_STATES))))
    tokens: dict[int, list[str]] = defaultdict(list)
    physician_ids = {m.physician_id for m in messages if m.physician_id is not None}
    rows = db.session.execute(select(Device.physician_id, Device.token)
                              .where(Device.physician_id.in_(physician_ids)).order_by(Device.id))
    for physician_id, token in rows:
        tokens[physician_id].append(token)
    ready: list[tuple[OutboxMessage, PushMessage]] = []
    for message in messages:
        if message.payload["data"]["type"] == "offer" and message.request_id not in open_ids:
            # Taken, cancelled or expired before we could send: a late offer would mislead.
            outbox.settle(message, status="obsolete", now=now, max_attempts=senders.max_attempts)
            continue
        if _stale_phase(message, now):
            # Sent late (the service was down): announce the phase the request is in now, not a past one.
            from dispatch.escalation.effects import offer_payload  # local: escalation imports the outbox

            request = db.session.get(Request, message.request_id)
            assert request is not None
            message.payload = offer_payload(request, phase=request.state)
        if not tokens.get(message.physician_id or 0):
            _unreachable(message, now=now, senders=senders, reason="no device", status="fallback")
        else:
            ready.append((message, _push(message, tokens[message.physician_id or 0])))
    results = senders.push.send_batch([push for _, push in ready]) if ready else []
    dead = [token for result in results for token in result.dead_tokens]
    if dead:
        from dispatch.communities.service import device_key  # local: communities imports notify

        db.session.execute(delete(Device).where(Device.token_key.in_([device_key(t) for t in dead])))
    sent: list[int] = []
    for (message, push), result in zip(ready, results, strict=True):
        if result.outcome is Outcome.SENT and not result.detail:
            sent.append(message.id)  # the common case, settled below in one statement
        else:
            _settle_push(message, push, result, now=now, senders=senders)
    outbox.mark_sent(sent, now=now)


def _push(message: OutboxMessage, tokens: list[str]) -> PushMessage:
    payload = message.payload
    expires_at = datetime.fromisoformat(payload["expires_at"]) if payload.get("expires_at") else None
    return PushMessage(tokens=tuple(tokens), data=payload["data"], collapse_key=payload["collapse_key"],
                       expires_at=expires_at, title=payload.get("title"), body=payload.get("body"),
                       urgent=payload.get("urgent", True))


def _settle_push(message: OutboxMessage, push: PushMessage, result: PushResult, *, now: datetime,
                 senders: Senders) -> None:
    if result.sent_tokens:  # the physician's phone has it, even if another device failed
        outbox.settle(message, status="sent", now=now, max_attempts=senders.max_attempts, error=result.detail)
    elif result.outcome is Outcome.TRANSIENT:
        outbox.settle(message, status="sent", now=now, max_attempts=senders.max_attempts, error=result.detail,
                      retry=True, rng=senders.rng)
        if message.status == "failed":
            _unreachable(message, now=now, senders=senders, reason=f"push failed: {result.detail}", status="failed")
    elif set(result.dead_tokens) == set(push.tokens):
        _unreachable(message, now=now, senders=senders, reason="dead tokens", status="dead_token")
    else:  # refused for a reason a retry cannot fix (the adapter has logged it loudly)
        _unreachable(message, now=now, senders=senders, reason=f"push refused: {result.detail}", status="failed")


def _unreachable(message: OutboxMessage, *, now: datetime, senders: Senders, reason: str, status: str) -> None:
    """Settle a push no phone app can receive: an offer falls back to an SMS, a withdrawal has nothing to clear."""
    sms_body = message.payload.get("sms")
    if not sms_body:
        # A withdrawal to a physician without a device replaces nothing on a phone.
        final = "obsolete" if reason == "no device" else status
        outbox.settle(message, status=final, now=now, max_attempts=0, error=reason)
        return
    physician = db.session.get(Physician, message.physician_id) if message.physician_id else None
    phone = physician.user.phone if physician else None
    if not phone:
        outbox.settle(message, status="failed", now=now, max_attempts=0, error=f"{reason}; no phone for an SMS")
        return
    outbox.settle(message, status="fallback" if status != "dead_token" else status, now=now, max_attempts=0,
                  error=reason)
    outbox.enqueue(channel="sms", kind=f"{message.kind}_sms", key=f"{message.idempotency_key}:sms", now=now,
                   payload={"body": sms_body}, request_id=message.request_id, physician_id=message.physician_id,
                   address=phone)


def _deliver_sms(message: OutboxMessage, *, now: datetime, senders: Senders) -> None:
    try:
        to = normalize_phone(message.address or "")
    except ValueError:
        outbox.settle(message, status="failed", now=now, max_attempts=0, error="invalid phone number")
        _record_sms_failure(message, now=now)
        return
    result = senders.sms.send(SmsMessage(to=to, body=message.payload["body"], idempotency_key=message.idempotency_key,
                                         status_callback=senders.sms_callback))
    if result.extra.get("ambiguous"):
        # A read timeout: Twilio may have sent it. Twilio has no idempotency key to make a resend safe,
        # so we never repeat it: the row fails as "ambiguous" and the request's trail says so.
        outbox.settle(message, status="failed", now=now, max_attempts=0, error=f"ambiguous: {result.detail}",
                      provider_status="unknown")
    else:
        outbox.settle(message, status=_status(result.outcome), now=now, max_attempts=senders.max_attempts,
                      error=result.detail, provider_id=result.provider_id,
                      provider_status=result.extra.get("status"), retry=result.outcome is Outcome.TRANSIENT,
                      rng=senders.rng)
    if message.status == "failed":
        _record_sms_failure(message, now=now)


def _record_sms_failure(message: OutboxMessage, *, now: datetime) -> None:
    if message.request_id:
        db.session.add(Event(request_id=message.request_id, at=now, type=f"{message.kind}_failed"[:40],
                             data={"channel": "sms", "attempts": message.attempts, "error": message.last_error}))


def record_sms_status(*, provider_id: str, status: str, error_code: str | None, now: datetime) -> bool:
    """Move an SMS's provider status forward from a delivery callback and commit; False if unknown."""
    row = db.session.execute(select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.request_id)
                             .where(OutboxMessage.provider_id == provider_id, OutboxMessage.channel == "sms")).first()
    if row is None:
        return False
    rank = PROVIDER_RANKS[status]
    earlier = [name for name, value in PROVIDER_RANKS.items() if value < rank]
    # Conditional update: callbacks arrive out of order and concurrently; a status never moves back.
    values: dict[str, Any] = {"provider_status": status}
    if status in ("undelivered", "failed"):
        values["last_error"] = f"twilio {status}" + (f" (error {error_code})" if error_code else "")
    moved = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id,
               or_(OutboxMessage.provider_status.is_(None), OutboxMessage.provider_status.in_(earlier)))
        .values(**values).execution_options(synchronize_session=False))
    if moved.rowcount == 1 and status in ("undelivered", "failed") and row.request_id:  # type: ignore[attr-defined]
        db.session.add(Event(request_id=row.request_id, at=now, type=f"{row.kind}_undelivered"[:40],
                             data={"channel": "sms", "provider_status": status, "error_code": error_code}))
    db.session.commit()
    return True


def _deliver_mail(message: OutboxMessage, *, now: datetime, senders: Senders) -> None:
    try:
        email = senders.build_mail(message)
    except Exception:  # a message we cannot build will not build better later: record it, visibly
        log.exception("outbox message %s: the secure message could not be built", message.id)
        outbox.settle(message, status="failed", now=now, max_attempts=0, error="message could not be built")
    else:
        result = senders.mail.send(email)
        outbox.settle(message, status=_status(result.outcome), now=now, max_attempts=senders.max_attempts,
                      error=result.detail, provider_id=result.provider_id,
                      retry=result.outcome is Outcome.TRANSIENT, rng=senders.rng)
    if message.status not in ("sent", "failed"):
        return
    synthesis_id = message.payload.get("synthesis_id")
    if synthesis_id:
        synthesis = db.session.get(Synthesis, synthesis_id)
        if synthesis is not None:
            synthesis.status = message.status
            # The report's copy and its rollup: the row as committed, locked until commit, moves with the rollup.
            locked = select(Request).where(Request.id == synthesis.request_id).with_for_update(of=Request)
            request = db.session.scalar(locked.execution_options(populate_existing=True))
            if request is not None:
                before = rollup.request_key(request, request.community.timezone)
                request.synthesis_status = message.status
                rollup.move_request(before, rollup.request_key(request, request.community.timezone))
    if message.request_id:
        event_type = f"{message.kind}_{message.status}"
        data = {"to": message.address, "attempts": message.attempts}
        if message.status == "failed":
            data["error"] = message.last_error
        db.session.add(Event(request_id=message.request_id, at=now, type=event_type, data=data))
