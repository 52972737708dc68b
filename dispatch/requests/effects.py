"""Carry out the machine's effects: offers, withdrawals, answers, messages and the synthesis, as rows of the
caller's transaction (the outbox sends them after it commits). One function per effect type."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, insert, select, update

from dispatch import texts
from dispatch.auth.models import Membership, User
from dispatch.communities import directory
from dispatch.communities.models import DirectoryEntry, Physician
from dispatch.db import UTCDateTime, db
from dispatch.notify.models import OutboxMessage
from dispatch.notify.outbox import enqueue, enqueue_many
from dispatch.requests import rollup
from dispatch.requests.machine import (
    AnswerOffer,
    Effect,
    OfferTo,
    ReOffer,
    SmsPatient,
    SmsPatientReleased,
    StoreSynthesis,
    TellOperator,
    TellOutsideTreating,
    Withdraw,
    WithdrawFrom,
    current_deadline,
    iso,
)
from dispatch.requests.models import Offer, Request, Synthesis


class Batch:
    """Reads and writes shared by the requests a tick advances together.

    The community's eligible physicians are read once, the offers already made in one query, and the
    new offers and their pushes are written in two statements for the whole batch (flush()).
    """

    def __init__(self, requests: list[Request], *, now: datetime) -> None:
        self.now = now
        self._offered: dict[int, set[int]] = defaultdict(set)
        rows = db.session.execute(
            select(Offer.request_id, Offer.physician_id).where(Offer.request_id.in_([request.id for request in requests]))
        )
        for request_id, physician_id in rows:
            self._offered[request_id].add(physician_id)
        self._members: dict[int, list[int]] = {}
        self.offers: list[dict[str, object]] = []
        self.pushes: list[dict[str, object]] = []

    def eligible(self, request: Request) -> list[int]:
        """Return what eligible_members(request) would, from the batch's reads."""
        members = self._members.get(request.community_id)
        if members is None:
            members = list(db.session.scalars(_COMMUNITY_ELIGIBLE, {"community_id": request.community_id, "now": self.now}))
            self._members[request.community_id] = members
        offered = self._offered[request.id]
        return [physician_id for physician_id in members if physician_id not in offered]

    def flush(self) -> None:
        """Write the batch's offers and pushes."""
        if self.offers:
            db.session.execute(insert(Offer), self.offers)
        enqueue_many(self.pushes, now=self.now)
        self.offers, self.pushes = [], []


def carry_out(request: Request, effects: tuple[Effect, ...], *, now: datetime, batch: Batch | None = None) -> None:
    """Carry out each effect of a decision on `request` (offers with the batch's, when given)."""
    for effect in effects:
        CARRY_OUT[type(effect)](request, effect, now, batch)


def _offer_to(request: Request, effect: Any, now: datetime, batch: Batch | None) -> None:
    if effect.audience == "treating":
        if request.treating_physician_id is not None:
            _offer(request, [request.treating_physician_id], phase="exclusive", now=now, batch=batch)
        return
    eligible = batch.eligible(request) if batch is not None else eligible_members(request, now=now)
    _offer(request, eligible, phase="community", now=now, batch=batch)


def _withdraw_effect(request: Request, effect: Any, now: datetime, batch: Batch | None) -> None:
    _withdraw(request, now=now, reason=effect.reason, keep=effect.except_physician)


def _withdraw_from(request: Request, effect: Any, now: datetime, batch: Batch | None) -> None:
    _withdraw(request, now=now, reason=effect.reason, only=effect.physician_id)


def _answer_offer(request: Request, effect: Any, now: datetime, batch: Batch | None) -> None:
    """Write the physician's answer on their offer if it still has the status the decision read, and count it."""
    answered = db.session.execute(
        update(Offer)
        .where(Offer.request_id == request.id, Offer.physician_id == effect.physician_id, Offer.status == effect.previous)
        .values(status=effect.status, responded_at=now, **({"reason": effect.reason} if effect.status == "refused" else {}))
        .execution_options(synchronize_session=False)
    )
    if answered.rowcount != 1:  # type: ignore[attr-defined]
        # Answered or withdrawn since the snapshot (the same physician on two phones, a winner): decide again.
        raise Stale(f"offer of request {request.id} to physician {effect.physician_id} is no longer {effect.previous}")
    rollup.count_answer(
        community_id=request.community_id,
        physician_id=effect.physician_id,
        answer=effect.status,
        previous=effect.previous,
        day=rollup.local_day(request.opened_at, request.community.timezone),
    )


class Stale(Exception):
    """The physician's offer was answered or withdrawn since the decision was taken: take it again."""


def _sms_patient(request: Request, effect: Any, now: datetime, batch: Batch | None) -> None:
    _tell_patient(request, now=now)


def _tell_outside_treating(request: Request, effect: Any, now: datetime, batch: Batch | None) -> None:
    tell_outside_treating(request, now=now)


def tell_outside_treating(request: Request, *, now: datetime) -> bool:
    """Queue the secure message telling an outside treating GP who took their patient, once per round; say if queued.

    Also called when the GP's address arrives after the acceptance (requests.directory).
    """
    key = f"taken:{request.id}{_round(request)}"  # accepted again after a hand-back: a message of its own
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)) is not None:
        return False
    enqueue(
        channel="mail",
        kind="taken",
        key=key,
        now=now,
        request_id=request.id,
        address=request.treating_mssante,
        payload={"request_id": request.id},
    )
    return True


def _tell_operator_effect(request: Request, effect: Any, now: datetime, batch: Batch | None) -> None:
    _tell_operator(request, now=now, reason=effect.reason)


def _reoffer(request: Request, effect: Any, now: datetime, batch: Batch | None) -> None:
    """Offer a handed-back request again, in the community phase, to those it was withdrawn from who still take requests."""
    members = list(db.session.scalars(_COMMUNITY_ELIGIBLE, {"community_id": request.community_id, "now": now}))
    again = sorted(
        db.session.scalars(
            update(Offer)
            .where(
                Offer.request_id == request.id,
                Offer.status == "withdrawn",
                Offer.physician_id != effect.except_physician,
                Offer.physician_id.in_(members),
            )
            .values(status="notified", phase="community", offered_at=now, responded_at=None)
            .returning(Offer.physician_id)
            .execution_options(synchronize_session="fetch")
        ).all()
    )
    if again:
        enqueue_many(_announce(request, again, phase="community"), now=now)


def _sms_patient_released(request: Request, effect: Any, now: datetime, batch: Batch | None) -> None:
    enqueue(
        channel="sms",
        kind="patient_released",
        key=f"released:{request.id}{_round(request)}",
        now=now,
        request_id=request.id,
        address=request.patient_phone,
        payload={"body": texts.patient_released_sms()},
    )


def _round(request: Request) -> str:
    """Return what names this round's messages of a request: nothing at first, then the number of hand-backs so far.

    A handed-back request is offered, withdrawn and accepted again: the new messages must not reuse the keys of
    the first round's.
    """
    return f":{request.releases}" if request.releases else ""


def _store_synthesis(request: Request, effect: Any, now: datetime, batch: Batch | None) -> None:
    """Keep the synthesis and, when someone must get it, queue it for their secure mailbox."""
    synthesis = Synthesis(
        request_id=request.id,
        physician_id=effect.physician_id,
        text=effect.text,
        written_at=now,
        to_address=effect.address,
        status=effect.status,
    )
    db.session.add(synthesis)
    if effect.status == "not_sendable" and request.treating_directory_id is not None:
        # No address yet for an outside GP: ask the national directory (again); its answer sends this synthesis.
        entry = db.session.get(DirectoryEntry, request.treating_directory_id)
        if entry is not None:
            directory.ask_directory(entry, now=now)
    if effect.status == "pending":
        db.session.flush()  # the synthesis's id names its message
        send_synthesis(synthesis, now=now)


def send_synthesis(synthesis: Synthesis, *, now: datetime) -> None:
    """Queue a synthesis for its treating GP's secure mailbox (also when the GP's address arrives late: requests.directory)."""
    enqueue(
        channel="mail",
        kind="synthesis",
        key=f"synthesis:{synthesis.id}",
        now=now,
        request_id=synthesis.request_id,
        address=synthesis.to_address,
        payload={"synthesis_id": synthesis.id},
    )


CARRY_OUT: dict[type, Callable[[Request, Any, datetime, Batch | None], None]] = {
    OfferTo: _offer_to,
    Withdraw: _withdraw_effect,
    AnswerOffer: _answer_offer,
    SmsPatient: _sms_patient,
    TellOutsideTreating: _tell_outside_treating,
    TellOperator: _tell_operator_effect,
    StoreSynthesis: _store_synthesis,
    ReOffer: _reoffer,
    SmsPatientReleased: _sms_patient_released,
    WithdrawFrom: _withdraw_from,
}


def _eligible_query() -> Any:
    """Return the community's physicians who take requests now (community and time as parameters)."""
    now = bindparam("now", type_=UTCDateTime())
    # Physician.is_available in SQL: a switch set "until" a passed time has flipped back.
    until = Physician.available_until
    available = ((until.is_(None) | (until > now)) & Physician.available.is_(True)) | (
        (until <= now) & Physician.available.is_(False)
    )
    return (
        select(Physician.id)
        .join(User, User.id == Physician.user_id)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.community_id == bindparam("community_id"), Membership.role == "physician", User.active.is_(True), available
        )
        .distinct()
        .order_by(Physician.id)
    )


# Built once: every request that opens to the community asks them.
_COMMUNITY_ELIGIBLE = _eligible_query()
_ELIGIBLE = _COMMUNITY_ELIGIBLE.where(
    Physician.id.not_in(select(Offer.physician_id).where(Offer.request_id == bindparam("request_id")))
)


def eligible_members(request: Request, *, now: datetime) -> list[int]:
    """Return the physicians of the community who take requests now and were not offered this one."""
    return list(db.session.scalars(_ELIGIBLE, {"request_id": request.id, "community_id": request.community_id, "now": now}))


def offer_payload(request: Request, *, phase: str) -> dict[str, object]:
    """Return the push of an offer: request id, phase, motive, town, deadline; never the patient."""
    tz = request.community.timezone
    deadline = current_deadline(phase, request.exclusive_until, request.expires_at) or request.expires_at
    title, body = texts.offer_push(motive=request.motive, city=request.patient_city, deadline=deadline, tz=tz)
    link = f"{current_app.config['DISPATCH_PUBLIC_URL']}/m/requests/{request.id}"
    return {
        "data": {
            "type": "offer",
            "request_id": str(request.id),
            "phase": phase,
            "motive": request.motive,
            "city": request.patient_city or "",
            "expires_at": iso(deadline),
        },
        "title": title,
        "body": body,
        "urgent": True,
        "collapse_key": f"request-{request.id}",
        "expires_at": deadline.isoformat(),
        "sms": texts.offer_sms(
            request_id=request.id, motive=request.motive, city=request.patient_city, deadline=deadline, tz=tz, link=link
        ),
    }


def _offer(request: Request, physician_ids: list[int], *, phase: str, now: datetime, batch: Batch | None = None) -> None:
    if not physician_ids:
        return
    # A fan-out reaches ~800 physicians: two multi-row INSERTs instead of 1,600 ORM objects.
    offers = [
        {"request_id": request.id, "physician_id": physician_id, "phase": phase, "status": "notified", "offered_at": now}
        for physician_id in physician_ids
    ]
    pushes = _announce(request, physician_ids, phase=phase)
    if batch is not None:
        batch.offers += offers
        batch.pushes += pushes
        return
    db.session.execute(insert(Offer), offers)
    enqueue_many(pushes, now=now)


def _announce(request: Request, physician_ids: list[int], *, phase: str) -> list[dict[str, Any]]:
    """Count new offers to these physicians in the rollup and return their pushes, keyed per round."""
    rollup.count_offers(
        community_id=request.community_id,
        physician_ids=physician_ids,
        day=rollup.local_day(request.opened_at, request.community.timezone),
    )
    payload = offer_payload(request, phase=phase)
    return [
        {
            "channel": "push",
            "kind": "offer",
            "idempotency_key": f"offer:{request.id}:{physician_id}{_round(request)}",
            "request_id": request.id,
            "physician_id": physician_id,
            "payload": payload,
        }
        for physician_id in physician_ids
    ]


def _withdraw(request: Request, *, now: datetime, reason: str, keep: int | None = None, only: int | None = None) -> None:
    """Withdraw every pending offer but `keep`'s (or `only`'s alone) and clear those phones, in two statements."""
    whose = Offer.physician_id == only if only is not None else Offer.physician_id != (keep or 0)
    withdrawn = db.session.scalars(
        update(Offer)
        .where(Offer.request_id == request.id, Offer.status == "notified", whose)
        .values(status="withdrawn", responded_at=now)
        .returning(Offer.physician_id)
        .execution_options(synchronize_session="fetch")
    ).all()
    data = {
        "type": "offer_withdrawn",
        "request_id": str(request.id),
        "phase": request.state,
        "motive": request.motive,
        "city": request.patient_city or "",
        "expires_at": iso(request.expires_at),
        "reason": reason,
    }
    payload = {"data": data, "urgent": False, "collapse_key": f"request-{request.id}", "expires_at": request.expires_at.isoformat()}
    enqueue_many(
        [
            {
                "channel": "push",
                "kind": "offer_withdrawn",
                "request_id": request.id,
                "idempotency_key": f"withdraw:{request.id}:{physician_id}{_round(request)}",
                "physician_id": physician_id,
                "payload": payload,
            }
            for physician_id in sorted(withdrawn)
        ],
        now=now,
    )


def _tell_patient(request: Request, *, now: datetime) -> None:
    physician = db.session.get(Physician, request.accepted_by_id)
    assert physician is not None and request.appointment_at is not None
    body = texts.patient_sms(
        physician_name=physician.user.name,
        appointment_at=request.appointment_at,
        place=request.place,
        tz=request.community.timezone,
        now=now,
    )
    enqueue(
        channel="sms",
        kind="patient_appointment",
        key=f"patient:{request.id}{_round(request)}",
        now=now,
        request_id=request.id,
        address=request.patient_phone,
        payload={"body": body},
    )


def _tell_operator(request: Request, *, now: datetime, reason: str) -> None:
    operator = db.session.get(User, request.opened_by_id)
    if operator is None or not operator.phone:
        return  # the console shows the expiry or the hand-back; there is no phone to text
    if reason == "released":
        body = texts.operator_released_sms(request_id=request.id, motive=request.motive)
        kind, key = "released_operator", f"released-operator:{request.id}{_round(request)}"
    else:
        body = texts.operator_expired_sms(request_id=request.id, motive=request.motive)
        kind, key = "expired_operator", f"expired:{request.id}{_round(request)}"
    enqueue(
        channel="sms",
        kind=kind,
        key=key,
        now=now,
        request_id=request.id,
        address=operator.phone,
        payload={"body": body},
    )
