"""Turn the machine's effects into offers and outbox rows, in the caller's transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, insert, select, update

from dispatch import texts
from dispatch.auth.models import Membership, User
from dispatch.communities.models import Physician
from dispatch.db import UTCDateTime, db
from dispatch.escalation.machine import Effect
from dispatch.escalation.models import Offer, Request
from dispatch.notify.outbox import enqueue, enqueue_many
from dispatch.reports import rollup


class Batch:
    """Reads and writes shared by the requests a tick advances together.

    The community's eligible physicians are read once, the offers already made in one query, and the
    new offers and their pushes are written in two statements for the whole batch (flush()).
    """

    def __init__(self, requests: list[Request], *, now: datetime) -> None:
        self.now = now
        self._offered: dict[int, set[int]] = defaultdict(set)
        rows = db.session.execute(select(Offer.request_id, Offer.physician_id)
                                  .where(Offer.request_id.in_([request.id for request in requests])))
        for request_id, physician_id in rows:
            self._offered[request_id].add(physician_id)
        self._members: dict[int, list[int]] = {}
        self.offers: list[dict[str, object]] = []
        self.pushes: list[dict[str, object]] = []

    def eligible(self, request: Request) -> list[int]:
        """Return what eligible_members(request) would, from the batch's reads."""
        members = self._members.get(request.community_id)
        if members is None:
            members = list(db.session.scalars(_COMMUNITY_ELIGIBLE, {"community_id": request.community_id,
                                                                    "now": self.now}))
            self._members[request.community_id] = members
        offered = self._offered[request.id]
        return [physician_id for physician_id in members if physician_id not in offered]

    def flush(self) -> None:
        """Write the batch's offers and pushes."""
        if self.offers:
            db.session.execute(insert(Offer), self.offers)
        enqueue_many(self.pushes, now=self.now)
        self.offers, self.pushes = [], []


def carry_out(request: Request, effects: Iterable[Effect], *, now: datetime, reason: str | None,
              batch: Batch | None = None) -> None:
    """Write the offers and messages that `effects` call for (the offers with the batch's, when given)."""
    for effect in effects:
        if effect is Effect.OFFER_TREATING and request.treating_physician_id is not None:
            _offer(request, [request.treating_physician_id], phase="exclusive", now=now, batch=batch)
        elif effect is Effect.OFFER_COMMUNITY:
            eligible = batch.eligible(request) if batch is not None else eligible_members(request, now=now)
            _offer(request, eligible, phase="community", now=now, batch=batch)
        elif effect in (Effect.WITHDRAW_OTHERS, Effect.WITHDRAW_ALL):
            _withdraw(request, now=now, reason=reason or "accepted")
        elif effect is Effect.TELL_PATIENT and request.patient_phone:
            _tell_patient(request, now=now)
        elif effect is Effect.TELL_OUTSIDE_TREATING and request.treating_mssante:
            enqueue(channel="mail", kind="taken", key=f"taken:{request.id}", now=now, request_id=request.id,
                    address=request.treating_mssante, payload={"request_id": request.id})
        elif effect is Effect.TELL_OPERATOR:
            _tell_operator(request, now=now)


def _eligible_query() -> Any:
    """Return the community's physicians who take requests now (community and time as parameters)."""
    now = bindparam("now", type_=UTCDateTime())
    # Physician.is_available in SQL: a switch set "until" a passed time has flipped back.
    until = Physician.available_until
    available = (((until.is_(None) | (until > now)) & Physician.available.is_(True))
                 | ((until <= now) & Physician.available.is_(False)))
    return (select(Physician.id).join(User, User.id == Physician.user_id)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.community_id == bindparam("community_id"), Membership.role == "physician",
                   User.active.is_(True), available)
            .distinct().order_by(Physician.id))


# Built once: every request that opens to the community asks them.
_COMMUNITY_ELIGIBLE = _eligible_query()
_ELIGIBLE = _COMMUNITY_ELIGIBLE.where(Physician.id.not_in(
    select(Offer.physician_id).where(Offer.request_id == bindparam("request_id"))))


def eligible_members(request: Request, *, now: datetime) -> list[int]:
    """Return the physicians of the community who take requests now and were not offered this one."""
    return list(db.session.scalars(_ELIGIBLE, {"request_id": request.id, "community_id": request.community_id,
                                               "now": now}))


def offer_payload(request: Request, *, phase: str) -> dict[str, object]:
    """Return the push of an offer: request id, phase, motive, town, deadline; never the patient."""
    tz = request.community.timezone
    deadline = request.expires_at if phase == "community" or request.exclusive_until is None \
        else request.exclusive_until
    title, body = texts.offer_push(motive=request.motive, city=request.patient_city, deadline=deadline, tz=tz)
    link = f"{current_app.config['DISPATCH_PUBLIC_URL']}/m/requests/{request.id}"
    return {
        "data": {"type": "offer", "request_id": str(request.id), "phase": phase, "motive": request.motive,
                 "city": request.patient_city or "", "expires_at": _iso(deadline)},
        "title": title, "body": body, "urgent": True, "collapse_key": f"request-{request.id}",
        "expires_at": deadline.isoformat(),
        "sms": texts.offer_sms(request_id=request.id, motive=request.motive, city=request.patient_city,
                               deadline=deadline, tz=tz, link=link),
    }


def _offer(request: Request, physician_ids: list[int], *, phase: str, now: datetime,
           batch: Batch | None = None) -> None:
    if not physician_ids:
        return
    payload = offer_payload(request, phase=phase)
    # A fan-out reaches ~800 physicians: two multi-row INSERTs instead of 1,600 ORM objects.
    offers = [{"request_id": request.id, "physician_id": physician_id, "phase": phase, "status": "notified",
               "offered_at": now} for physician_id in physician_ids]
    pushes = [{"channel": "push", "kind": "offer", "idempotency_key": f"offer:{request.id}:{physician_id}",
               "request_id": request.id, "physician_id": physician_id, "payload": payload}
              for physician_id in physician_ids]
    rollup.count_offers(community_id=request.community_id, physician_ids=physician_ids,
                        day=rollup.local_day(request.opened_at, request.community.timezone))
    if batch is not None:
        batch.offers += offers
        batch.pushes += pushes
        return
    db.session.execute(insert(Offer), offers)
    enqueue_many(pushes, now=now)


def _withdraw(request: Request, *, now: datetime, reason: str) -> None:
    """Withdraw every pending offer but the winner's and clear those phones, in two statements."""
    withdrawn = db.session.scalars(
        update(Offer).where(Offer.request_id == request.id, Offer.status == "notified",
                            Offer.physician_id != (request.accepted_by_id or 0))
        .values(status="withdrawn", responded_at=now).returning(Offer.physician_id)
        .execution_options(synchronize_session="fetch")).all()
    data = {"type": "offer_withdrawn", "request_id": str(request.id), "phase": request.state,
            "motive": request.motive, "city": request.patient_city or "", "expires_at": _iso(request.expires_at),
            "reason": reason}
    payload = {"data": data, "urgent": False, "collapse_key": f"request-{request.id}",
               "expires_at": request.expires_at.isoformat()}
    enqueue_many([{"channel": "push", "kind": "offer_withdrawn", "request_id": request.id,
                   "idempotency_key": f"withdraw:{request.id}:{physician_id}", "physician_id": physician_id,
                   "payload": payload} for physician_id in sorted(withdrawn)], now=now)


def _tell_patient(request: Request, *, now: datetime) -> None:
    physician = db.session.get(Physician, request.accepted_by_id)
    assert physician is not None and request.appointment_at is not None
    body = texts.patient_sms(physician_name=physician.user.name, appointment_at=request.appointment_at,
                             place=request.place, tz=request.community.timezone, now=now)
    enqueue(channel="sms", kind="patient_appointment", key=f"patient:{request.id}", now=now, request_id=request.id,
            address=request.patient_phone, payload={"body": body})


def _tell_operator(request: Request, *, now: datetime) -> None:
    operator = db.session.get(User, request.opened_by_id)
    if operator is None or not operator.phone:
        return  # the console shows the expiry; there is no phone to text
    body = (f"SNP : la demande n° {request.id} ({texts.MOTIVE_LABELS.get(request.motive, request.motive)}) "
            "a expiré sans médecin. Merci de rappeler le patient.")
    enqueue(channel="sms", kind="expired_operator", key=f"expired:{request.id}", now=now, request_id=request.id,
            address=operator.phone, payload={"body": body})


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
