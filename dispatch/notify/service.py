"""Use cases of the sender: deliver what is due in the outbox through the ports, and record provider news."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parseaddr
from typing import Any

from sqlalchemy import or_, select, update

from dispatch import maintenance, metrics
from dispatch.db import db, kept_after_commit
from dispatch.notify import budget, outbox
from dispatch.notify.annuaire import DirectoryPort
from dispatch.notify.geoplateforme import GeocoderPort
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import (
    MailPort,
    Outcome,
    OutgoingMail,
    PushMessage,
    PushPort,
    PushResult,
    SmsMessage,
    SmsPort,
)
from dispatch.notify.retry_after import retry_after_s
from dispatch.phones import normalize_phone

log = logging.getLogger(__name__)

MAX_ROUNDS = 50  # a round's fallbacks are due at once; bounded so a bug cannot spin forever
# Twilio's statuses of an outgoing message (the Message resource's `status`) in the order they can follow
# each other; rank 4 ends delivery, `read` (RCS, WhatsApp) can still follow it.
PROVIDER_RANKS = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "partially_delivered": 4,  # only some segments of a long SMS arrived
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
# Statuses of an incoming message: no SMS of ours ever has them, a callback bearing one changes nothing.
INBOUND_STATUSES = ("receiving", "received")
TWILIO_STATUSES = (*PROVIDER_RANKS, *INBOUND_STATUSES)
# Final statuses after which the recipient may lack the text: the domain is told (the operator calls).
NOT_DELIVERED = ("undelivered", "failed", "canceled", "partially_delivered")


@dataclass(frozen=True)
class OfferWindow:
    """Where a request's offers stand: open (worth sending, announcing `deadline`), taken or cancelled, or expired."""

    open: bool
    deadline: datetime | None  # what an offer announces now (the current phase's end); None once closed
    expired: bool  # its expiry has passed: an offer that did not leave before it never will


# What the sender asks the domain it serves: registered by create_app (dispatch.delivery), so that this
# package imports no domain package. Each is a plain function.
@dataclass(frozen=True)
class Hooks:
    """Reads and consequences that belong to the requests' domain, not to delivery."""

    # physician ids -> their devices as (platform, token), oldest first; platform "webpush" for browsers
    devices: Callable[[set[int]], dict[int, list[tuple[str, str]]]]
    forget_devices: Callable[[list[str]], None]  # tokens the push service says are dead
    reached: Callable[[list[str], datetime], None]  # tokens a push just reached
    phone_of: Callable[[int], str | None]  # a physician's phone, for the SMS fallback
    # The SMS that replaces an undeliverable push, as the outbox payload of its row ("body", and "link" to blank once sent)
    sms_of: Callable[[OutboxMessage, datetime], dict[str, str]]
    # Where the offers of these requests stand at `now` (request id -> its window): whether an offer is still worth
    # sending, and the deadline it must announce
    offer_windows: Callable[[set[int], datetime], dict[int, OfferWindow]]
    current_offer: Callable[[int, int | None], dict[str, Any]]  # a request's offer to a physician, for its phase now
    # After a message reached a final status (sent, failed) or a provider reported it undelivered, by the
    # message's kind; `None` key: every kind. Called in the sender's transaction.
    delivered: dict[str | None, Callable[[OutboxMessage, str, datetime, dict[str, Any]], None]]
    # The community an SMS is counted against, as (id, daily budget, timezone); None: no community's (the
    # platform's own accounts), not counted.
    sms_budget: Callable[[OutboxMessage], tuple[int, int, str] | None] = lambda message: None
    # A community's budget of a day just ran out (community id, day, now): tell the admin; once a day.
    budget_spent: Callable[[int, date, datetime], None] = lambda community_id, day, now: None
    # The sender an SMS is signed with: its community's (sms_sender); None: the SMS adapter's configured one.
    sms_sender: Callable[[OutboxMessage], str | None] = lambda message: None
    # The communities' own MSSanté mailboxes (mssante_from), read for the receipts of what they sent.
    mailboxes: Callable[[], list[str]] = lambda: []


def _no_devices(physician_ids: set[int]) -> dict[int, list[tuple[str, str]]]:
    return {}


NO_HOOKS = Hooks(
    devices=_no_devices,
    forget_devices=lambda tokens: None,
    reached=lambda tokens, at: None,
    phone_of=lambda physician_id: None,
    sms_of=lambda message, now: {"body": message.payload["sms"]},
    offer_windows=lambda request_ids, now: {request_id: OfferWindow(True, None, False) for request_id in request_ids},
    current_offer=lambda request_id, physician_id: {},
    delivered={},
)


def _after(message: OutboxMessage, outcome: str, *, now: datetime, hooks: Hooks, **info: Any) -> None:
    """Tell the domain what became of a message: its kind's handler, then the one for every kind."""
    for key in (message.kind, None):
        handler = hooks.delivered.get(key)
        if handler is not None:
            handler(message, outcome, now, info)


@dataclass(frozen=True)
class Senders:
    """The ports and settings the sender needs."""

    push: PushPort
    sms: SmsPort
    mail: MailPort
    build_mail: Callable[[OutboxMessage], OutgoingMail]
    # The ordinary relay (DISPATCH_MAIL_SMTP_*) for mail that concerns no patient; None only with a test's fakes,
    # where `mail` records both (build_ports always sets it).
    relay: MailPort | None = None
    webpush: PushPort | None = None  # browsers' push services (the installable app); None: push port for all
    directory: DirectoryPort | None = None  # the national directory (Annuaire Santé); None: lookups not configured
    geocoder: GeocoderPort | None = None  # the Géoplateforme (DISPATCH_GEOCODER=geoplateforme); None: not online
    max_attempts: int = 8
    lease_s: int = 30
    sms_callback: str | None = None
    rng: Callable[[], float] = random.random
    hooks: Hooks = NO_HOOKS


def deliver_pending(*, now: datetime, senders: Senders, limit: int = 200) -> int:
    """Send every due outbox message once (pushes in shared batches); return how many were attempted.

    During a maintenance every message is held (its request's deadlines move at the end, and the offers announce them).
    """
    if maintenance.current() is not None:
        db.session.rollback()
        return 0
    # 200 rows a round, sent 100 FCM calls at a time: a round ends within its 30 s lease even if every
    # call took its full 10 s timeout; a department's fan-out (~800) is four rounds.
    total = 0
    for _ in range(MAX_ROUNDS):
        started = outbox.enqueued_count()
        messages = claims = outbox.claim_due(now=now, limit=limit, lease_s=senders.lease_s)
        if not claims:
            break
        unknown = [m for m in messages if m.provider_status == SUBMITTING]
        if unknown:  # a sender died while handing these SMS to their service: never sent again
            messages = [m for m in messages if m.provider_status != SUBMITTING]
            _guarded(unknown, _ambiguous, now=now, senders=senders)
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
            if message.status == "sending" and message.provider_status == SUBMITTING:
                _ambiguous([message], now=now, senders=senders)  # its service may have it: not again
            elif message.status == "sending":
                outbox.settle(
                    message,
                    status="failed",
                    now=now,
                    max_attempts=senders.max_attempts,
                    error="internal error while sending",
                    retry=True,
                    rng=senders.rng,
                )
        db.session.commit()


def _deliver_each(messages: list[OutboxMessage], *, now: datetime, senders: Senders) -> None:
    for message in messages:
        if message.channel == "sms":
            _deliver_sms(message, now=now, senders=senders)
        elif message.channel == "mail":
            _deliver_mail(message, now=now, senders=senders)
        elif message.channel == "directory":
            _look_up(message, now=now, senders=senders)
        elif message.channel == "geocode":
            _geocode(message, now=now, senders=senders)
        else:
            outbox.settle(message, status="failed", now=now, max_attempts=0, error=f"unknown channel {message.channel}")


SENT_FROM = "sent_from"  # in a mail's payload: the mailbox it left from, where its reports must come back
OFFER_MARK = "offer"  # in an SMS's payload: it replaces an offer's push, and is worth sending only while the offer is


def _is_offer(message: OutboxMessage) -> bool:
    """Say whether a message offers a request: a push of type offer, or the SMS that replaces one."""
    return bool(message.payload.get(OFFER_MARK)) or message.payload.get("data", {}).get("type") == "offer"


def _announces_another_deadline(message: OutboxMessage, window: OfferWindow) -> bool:
    """Say whether an offer's push announces another deadline than its request's now (a past phase, deadlines moved)."""
    announced = message.payload.get("expires_at")
    if not announced or window.deadline is None:
        return False
    return datetime.fromisoformat(announced) != window.deadline


def _late(message: OutboxMessage, window: OfferWindow | None, *, now: datetime, senders: Senders) -> bool:
    """Settle an offer that can no longer be answered, and say so: expired when its request's deadline passed before
    it could leave (the request's trail notes it), obsolete when the request was taken or cancelled."""
    if window is not None and window.open:
        return False
    if window is not None and window.expired:
        outbox.settle(message, status="expired", now=now, max_attempts=0, error="its request's deadline passed before it left")
    else:  # taken or cancelled before we could send: a late offer would mislead
        outbox.settle(message, status="obsolete", now=now, max_attempts=senders.max_attempts)
    return True


def _note_expired(messages: list[OutboxMessage], *, now: datetime, senders: Senders) -> None:
    """Tell the domain of the offers that expired unsent: once per request and channel (a fan-out is one line)."""
    by_request: dict[tuple[int | None, str], list[OutboxMessage]] = defaultdict(list)
    for message in messages:
        by_request[(message.request_id, message.channel)].append(message)
    for group in by_request.values():
        _after(group[0], "expired", now=now, hooks=senders.hooks, count=len(group))


def _status(outcome: Outcome) -> str:
    return "sent" if outcome is Outcome.SENT else "failed"


def _deliver_pushes(messages: list[OutboxMessage], *, now: datetime, senders: Senders) -> None:
    """Send a round's pushes through one port call, then settle each recipient's row."""
    hooks = senders.hooks
    windows = hooks.offer_windows({m.request_id for m in messages if m.request_id is not None and _is_offer(m)}, now)
    tokens: dict[int, list[tuple[str, str]]] = defaultdict(list)
    tokens.update(hooks.devices({m.physician_id for m in messages if m.physician_id is not None}))
    ready: list[tuple[OutboxMessage, list[tuple[str, str]]]] = []
    expired: list[OutboxMessage] = []
    for message in messages:
        window = windows.get(message.request_id or 0)
        if _is_offer(message) and _late(message, window, now=now, senders=senders):
            if message.status == "expired":
                expired.append(message)
            continue
        if window is not None and _announces_another_deadline(message, window):
            # Sent late (the service was down, or its deadlines moved): announce the phase and deadline of now.
            message.payload = hooks.current_offer(message.request_id or 0, message.physician_id)
        if not tokens.get(message.physician_id or 0):
            _unreachable(message, now=now, senders=senders, reason="no device", status="fallback")
        else:
            ready.append((message, tokens[message.physician_id or 0]))
    if expired:
        _note_expired(expired, now=now, senders=senders)
    results = _send_by_service(ready, senders)
    dead = [token for result in results for token in result.dead_tokens]
    if dead:
        hooks.forget_devices(dead)
    reached = [token for result in results for token in result.sent_tokens]
    if reached:
        hooks.reached(reached, now)
    sent: list[int] = []
    for (message, devices), result in zip(ready, results, strict=True):
        if result.outcome is Outcome.SENT and not result.detail:
            sent.append(message.id)  # the common case, settled below in one statement
        else:
            _settle_push(message, tuple(token for _, token in devices), result, now=now, senders=senders)
    outbox.mark_sent(sent, now=now)


def _send_by_service(ready: list[tuple[OutboxMessage, list[tuple[str, str]]]], senders: Senders) -> list[PushResult]:
    """Send each message to its physician's devices: apps through FCM, browsers through Web Push, in two batches.

    Returns one result per message, the two services' results merged (sent if any device got it).
    """
    routes: list[tuple[PushPort, str]] = [(senders.push, "native")]
    if senders.webpush is not None:
        routes.append((senders.webpush, "webpush"))
    per_message: list[list[PushResult]] = [[] for _ in ready]
    for port, route in routes:
        batch: list[tuple[int, PushMessage]] = []
        for index, (message, devices) in enumerate(ready):
            chosen = [
                token for platform, token in devices if senders.webpush is None or (platform == "webpush") == (route == "webpush")
            ]
            if chosen:
                batch.append((index, _push(message, chosen)))
        if batch:
            for (index, _), result in zip(batch, port.send_batch([push for _, push in batch]), strict=True):
                per_message[index].append(result)
                metrics.count_sent("webpush" if route == "webpush" else "push", _result_label(result))
    return [_merge(results) for results in per_message]


def _result_label(result: PushResult) -> str:
    if result.sent_tokens or result.outcome is Outcome.SENT:
        return "sent"
    return "dead" if result.dead_tokens else "failed"


def _merge(results: list[PushResult]) -> PushResult:
    if len(results) == 1:
        return results[0]
    outcomes = {result.outcome for result in results}
    outcome = (
        Outcome.TRANSIENT if Outcome.TRANSIENT in outcomes else Outcome.SENT if Outcome.SENT in outcomes else Outcome.PERMANENT
    )
    return PushResult(
        outcome,
        sent_tokens=tuple(t for r in results for t in r.sent_tokens),
        dead_tokens=tuple(t for r in results for t in r.dead_tokens),
        retry_tokens=tuple(t for r in results for t in r.retry_tokens),
        detail=", ".join(r.detail for r in results if r.detail),
    )


def _push(message: OutboxMessage, tokens: list[str]) -> PushMessage:
    payload = message.payload
    expires_at = datetime.fromisoformat(payload["expires_at"]) if payload.get("expires_at") else None
    return PushMessage(
        tokens=tuple(tokens),
        data=payload["data"],
        collapse_key=payload["collapse_key"],
        expires_at=expires_at,
        title=payload.get("title"),
        body=payload.get("body"),
        urgent=payload.get("urgent", True),
    )


def _settle_push(message: OutboxMessage, tokens: tuple[str, ...], result: PushResult, *, now: datetime, senders: Senders) -> None:
    if result.sent_tokens:  # the physician's phone has it, even if another device failed
        outbox.settle(message, status="sent", now=now, max_attempts=senders.max_attempts, error=result.detail)
    elif result.outcome is Outcome.TRANSIENT:
        # A push service that said when to come back (429, 503 with Retry-After) is not asked sooner.
        outbox.settle(
            message,
            status="sent",
            now=now,
            max_attempts=senders.max_attempts,
            error=result.detail,
            retry=True,
            rng=senders.rng,
            not_before_s=retry_after_s(result.detail),
        )
        if message.status == "failed":
            _unreachable(message, now=now, senders=senders, reason=f"push failed: {result.detail}", status="failed")
    elif set(result.dead_tokens) == set(tokens):
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
    phone = senders.hooks.phone_of(message.physician_id) if message.physician_id else None
    if not phone:
        outbox.settle(message, status="failed", now=now, max_attempts=0, error=f"{reason}; no phone for an SMS")
        return
    outbox.settle(message, status="fallback" if status != "dead_token" else status, now=now, max_attempts=0, error=reason)
    payload: dict[str, Any] = dict(senders.hooks.sms_of(message, now))
    if _is_offer(message):
        payload = {**payload, OFFER_MARK: True}  # held to the offer's deadline like the push it replaces
    outbox.enqueue(
        channel="sms",
        kind=f"{message.kind}_sms",
        key=f"{message.idempotency_key}:sms",
        now=now,
        payload=payload,
        request_id=message.request_id,
        physician_id=message.physician_id,
        address=phone,
    )


def _deliver_sms(message: OutboxMessage, *, now: datetime, senders: Senders) -> None:
    if _is_offer(message) and message.request_id is not None:
        window = senders.hooks.offer_windows({message.request_id}, now).get(message.request_id)
        if _late(message, window, now=now, senders=senders):
            if message.status == "expired":
                _note_expired([message], now=now, senders=senders)
            return
    try:
        to = normalize_phone(message.address or "")
    except ValueError:
        outbox.settle(message, status="failed", now=now, max_attempts=0, error="invalid phone number")
        _after(message, "failed", now=now, hooks=senders.hooks)
        return
    if not _within_budget(message, now=now, senders=senders):
        outbox.settle(message, status=budget.OVER_BUDGET, now=now, max_attempts=0, error="daily SMS budget of the community spent")
        _after(message, "failed", now=now, hooks=senders.hooks)
        return
    _submitting(message)
    result = senders.sms.send(
        SmsMessage(
            to=to,
            body=message.payload["body"],
            idempotency_key=message.idempotency_key,
            status_callback=senders.sms_callback,
            sender=senders.hooks.sms_sender(message),
        )
    )
    message.provider_status = None  # answered: what the service said replaces the mark
    if result.extra.get("ambiguous"):
        # A read timeout: Twilio may have sent it. Twilio has no idempotency key to make a resend safe,
        # so we never repeat it: the row fails as "ambiguous" and the request's trail says so.
        outbox.settle(
            message, status="failed", now=now, max_attempts=0, error=f"ambiguous: {result.detail}", provider_status="unknown"
        )
    else:
        status = result.extra.get("status")
        _settle_by(result, message, now=now, senders=senders, provider_id=result.provider_id, provider_status=status)
    if message.status in ("sent", "failed"):
        _after(message, message.status, now=now, hooks=senders.hooks)


# An SMS is sent at most once (a patient must not get two appointments' texts): the attempt is on record before its
# service hears of it, so that a sender killed between the service's answer and its own commit leaves a row that no
# sender hands over again. Twilio has no idempotency key that would make a second try safe. Pushes may repeat: they
# carry a collapse key, the phone shows one notification.
SUBMITTING = "submitting"


def _submitting(message: OutboxMessage) -> None:
    """Record, and commit, that this SMS is about to be handed to its service."""
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(provider_status=SUBMITTING))
    with kept_after_commit():
        db.session.commit()
    message.provider_status = SUBMITTING


def _ambiguous(messages: list[OutboxMessage], *, now: datetime, senders: Senders) -> None:
    """Give up SMS whose sender stopped while handing them over: their fate is unknown, the request's trail says so."""
    for message in messages:
        outbox.settle(
            message,
            status="failed",
            now=now,
            max_attempts=0,
            error="ambiguous: the sender stopped while handing it to the SMS service; not sent again",
            provider_status="unknown",
        )
        _after(message, "failed", now=now, hooks=senders.hooks)


def _within_budget(message: OutboxMessage, *, now: datetime, senders: Senders) -> bool:
    """Count the SMS against its community's daily budget; False when the budget is spent (the admin told once)."""
    owner = senders.hooks.sms_budget(message)
    if owner is None:
        return True
    community_id, daily, timezone = owner
    day = budget.local_day(now, timezone)
    if budget.take(community_id=community_id, day=day, budget=daily):
        return True
    log.warning("outbox message %s: daily SMS budget of community %s spent", message.id, community_id)
    if budget.note_spent(community_id=community_id, day=day, now=now):
        senders.hooks.budget_spent(community_id, day, now)
    return False


def _settle_by(result: Any, message: OutboxMessage, *, now: datetime, senders: Senders, **columns: Any) -> None:
    """Settle a message by what its service answered: sent, failed for good, or retried later with backoff."""
    outbox.settle(
        message,
        status=_status(result.outcome),
        now=now,
        max_attempts=senders.max_attempts,
        error=result.detail,
        retry=result.outcome is Outcome.TRANSIENT,
        rng=senders.rng,
        **columns,
    )


def record_sms_status(
    *, provider_id: str, status: str, error_code: str | None, now: datetime, hooks: Hooks = NO_HOOKS, provider: str = "twilio"
) -> bool:
    """Move an SMS's provider status forward from a delivery callback or a poll and commit; False if unknown."""
    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == provider_id, OutboxMessage.channel == "sms"))
    if row is None:
        return False
    if status not in PROVIDER_RANKS:  # an incoming message's status: nothing to say about ours
        log.warning("%s reported %s for the outgoing sms %s: ignored", provider, status, row.id)
        return True
    rank = PROVIDER_RANKS[status]
    earlier = [name for name, value in PROVIDER_RANKS.items() if value < rank]
    # Conditional update: callbacks arrive out of order and concurrently; a status never moves back.
    values: dict[str, Any] = {"provider_status": status}
    if status in NOT_DELIVERED:
        values["last_error"] = f"{provider} {status}" + (f" (error {error_code})" if error_code else "")
    moved = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, or_(OutboxMessage.provider_status.is_(None), OutboxMessage.provider_status.in_(earlier)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount == 1 and status in NOT_DELIVERED:  # type: ignore[attr-defined]
        db.session.refresh(row)
        _after(row, "undelivered", now=now, hooks=hooks, error_code=error_code)
    db.session.commit()
    return True


def _deliver_mail(message: OutboxMessage, *, now: datetime, senders: Senders) -> None:
    try:
        outgoing = senders.build_mail(message)
    except Exception:  # a message we cannot build will not build better later: record it, visibly
        log.exception("outbox message %s: the secure message could not be built", message.id)
        outbox.settle(message, status="failed", now=now, max_attempts=0, error="message could not be built")
    else:
        email = outgoing.message
        # MSSanté carries only what concerns a patient; the rest goes through the ordinary relay.
        port = senders.mail if outgoing.secure or senders.relay is None else senders.relay
        # The mailbox it leaves from (a community's own, or the platform's): its reports come back there, and a
        # report found in another mailbox is not believed (dispatch.notify.receiving). A new dict: the JSON column
        # sees an assignment.
        sent_from = parseaddr(str(email.get("From") or ""))[1].strip().lower()
        if sent_from and message.payload.get(SENT_FROM) != sent_from:
            message.payload = {**message.payload, SENT_FROM: sent_from}
        result = port.send(email)
        # The Message-ID we wrote: the delivery and read reports name the message by it (dispatch.notify.receiving).
        written_id = str(email.get("Message-ID") or "").strip()
        _settle_by(result, message, now=now, senders=senders, provider_id=written_id or result.provider_id)
    if message.status in ("sent", "failed"):
        _after(message, message.status, now=now, hooks=senders.hooks)


def _look_up(message: OutboxMessage, *, now: datetime, senders: Senders) -> None:
    """Ask the national directory for a physician's MSSanté box (payload `rpps`); the domain keeps the answer.

    "sent" means the directory answered, the box found (or None) handed to the kind's hook as `mailbox`.
    """
    if senders.directory is None:  # queued while lookups were configured, sent after they were turned off
        outbox.settle(message, status="failed", now=now, max_attempts=0, error="directory lookups are not configured")
        _after(message, "failed", now=now, hooks=senders.hooks)
        return
    result = senders.directory.find_mailbox(str(message.payload["rpps"]))
    _settle_by(result, message, now=now, senders=senders, not_before_s=retry_after_s(result.detail))
    if message.status in ("sent", "failed"):
        _after(message, message.status, now=now, hooks=senders.hooks, mailbox=result.mailbox)


def _geocode(message: OutboxMessage, *, now: datetime, senders: Senders) -> None:
    """Ask the online geocoder where an address is (payload `q`); the domain keeps the answer (its kind's hook).

    "sent" means the service answered, the result (a place, or none found) handed to the hook as `place`. A 429 is
    not counted as an attempt: the message waits for the Retry-After and is never given up for it.
    """
    if senders.geocoder is None:  # queued while the Géoplateforme was the geocoder, sent after it was changed
        outbox.settle(message, status="failed", now=now, max_attempts=0, error="online geocoding is not configured")
        _after(message, "failed", now=now, hooks=senders.hooks)
        return
    result = senders.geocoder.search(str(message.payload["q"]))
    if result.rate_limited:
        message.attempts = max(0, message.attempts - 1)
    _settle_by(result, message, now=now, senders=senders, not_before_s=retry_after_s(result.detail))
    if message.status in ("sent", "failed"):
        _after(message, message.status, now=now, hooks=senders.hooks, place=result)
