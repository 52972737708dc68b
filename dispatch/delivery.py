"""What the outbox sender asks of the requests' domain, and what follows a delivery: registered by create_app.

The notify package imports no domain package; this module is the one place that ties them: push tokens and
phones of physicians, whether an offer is still worth sending, the current offer of a request, and per
message kind what a final status changes (the synthesis's status, the request's trail).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import bindparam, delete, func, select, update

from dispatch.auth.accounts import INVITATION_KIND, RESET_KIND
from dispatch.auth.models import Membership, User
from dispatch.communities.directory import LOOKUP_KIND
from dispatch.communities.models import Community, Device, Physician
from dispatch.communities.placing import practice_placed
from dispatch.communities.service import device_key
from dispatch.db import db
from dispatch.events import Actor, record_event
from dispatch.geo.service import PATIENT_KIND, PRACTICE_KIND
from dispatch.notify.models import OutboxMessage
from dispatch.notify.outbox import enqueue
from dispatch.notify.ports import NOT_MOBILE
from dispatch.notify.service import Hooks, OfferWindow
from dispatch.requests import offer_store
from dispatch.requests.directory import mailbox_answered
from dispatch.requests.links import make_link
from dispatch.requests.machine import OPEN_STATES, State, current_deadline
from dispatch.requests.messages import offer_payload, offer_sms
from dispatch.requests.models import Request, Synthesis
from dispatch.requests.placing import patient_placed

BUDGET_KIND = "sms_budget"  # the mail telling the admin a community's SMS budget of the day ran out
NOBODY = Actor(user_id=None, role=None, client=None)  # what the sender records: no one acted

_DEVICES = (
    select(Device.physician_id, Device.platform, Device.token)
    .where(Device.physician_id.in_(bindparam("ids", expanding=True)))
    .order_by(Device.id)
)
_WINDOWS = select(Request.id, Request.state, Request.exclusive_until, Request.expires_at).where(
    Request.id.in_(bindparam("ids", expanding=True))
)


def devices(physician_ids: set[int]) -> dict[int, list[tuple[str, str]]]:
    """Return the devices of these physicians as (platform, token), oldest first."""
    tokens: dict[int, list[tuple[str, str]]] = defaultdict(list)
    if physician_ids:
        for physician_id, platform, token in db.session.execute(_DEVICES, {"ids": sorted(physician_ids)}):
            tokens[physician_id].append((platform, token))
    return tokens


def forget_devices(tokens: list[str]) -> None:
    """Delete the devices whose tokens the push service declared dead."""
    db.session.execute(delete(Device).where(Device.token_key.in_([device_key(token) for token in tokens])))


def reached(tokens: list[str], now: datetime) -> None:
    """Note when a push last reached these devices, in one statement (shown by GET /me/devices)."""
    db.session.execute(
        update(Device).where(Device.token_key.in_([device_key(token) for token in tokens])).values(last_success_at=now)
    )


def phone_of(physician_id: int) -> str | None:
    """Return a physician's phone, for the SMS that replaces a push."""
    physician = db.session.get(Physician, physician_id)
    return physician.user.phone if physician is not None else None


def sms_of(message: OutboxMessage, now: datetime) -> dict[str, str]:
    """Return the SMS that replaces an offer's push: its link signs this physician in to this request only, once."""
    request = db.session.get(Request, message.request_id) if message.kind == "offer" and message.request_id else None
    if request is None or message.physician_id is None:
        return {"body": message.payload["sms"]}
    link = make_link(
        request_id=request.id,
        physician_id=message.physician_id,
        expires_at=request.expires_at,
        now=now,
        public_url=current_app.config["DISPATCH_PUBLIC_URL"],
    )
    distance = offer_store.distances([request.id], physician_id=message.physician_id).get((request.id, message.physician_id))
    body = offer_sms(request, phase=message.payload["data"]["phase"], link=link, distance_km=distance)
    return {"body": body, "link": link}


def offer_windows(request_ids: set[int], now: datetime) -> dict[int, OfferWindow]:
    """Return where the offers of these requests stand at `now`: open (and the deadline an offer announces), taken or
    cancelled, or expired (closed by its expiry, or past it and not moved yet by the tick)."""
    if not request_ids:
        return {}
    windows = {}
    for row in db.session.execute(_WINDOWS, {"ids": sorted(request_ids)}):
        expired = row.state == State.EXPIRED or (row.state in OPEN_STATES and row.expires_at <= now)
        still_open = row.state in OPEN_STATES and not expired
        deadline = current_deadline(row.state, row.exclusive_until, row.expires_at) if still_open else None
        windows[row.id] = OfferWindow(open=still_open, deadline=deadline, expired=expired)
    return windows


def current_offer(request_id: int, physician_id: int | None) -> dict[str, Any]:
    """Return a request's offer to a physician for the phase it is in now (a push sent late announces no past
    deadline), with the distance their offer was made at."""
    request = db.session.get(Request, request_id)
    assert request is not None
    found = offer_store.distances([request_id], physician_id=physician_id) if physician_id is not None else {}
    distance = found.get((request_id, physician_id or 0))
    return offer_payload(request, phase=request.state, distance_km=distance)


# A synthesis's statuses in the order they can follow each other: it never moves back (a late "delivered" report
# after a read receipt changes nothing); refused and failed end it.
SYNTHESIS_RANKS = {"pending": 0, "sent": 1, "delivered": 2, "read": 3, "refused": 4, "failed": 4}


def synthesis_delivered(message: OutboxMessage, outcome: str, now: datetime, info: dict[str, Any]) -> None:
    """Keep the synthesis's status (sent, then what the reports say), and the request's copy of it for the report."""
    if outcome not in SYNTHESIS_RANKS:
        return
    synthesis_id = message.payload.get("synthesis_id")
    # The request as committed, locked until commit, then the synthesis as committed: the sender and the receipts
    # poller write both one after the other, and the request's version and the report's rollup move together.
    request_id = db.session.scalar(select(Synthesis.request_id).where(Synthesis.id == synthesis_id))
    if request_id is None:
        return
    locked = select(Request).where(Request.id == request_id).with_for_update(of=Request)
    request = db.session.scalar(locked.execution_options(populate_existing=True))
    synthesis = db.session.scalar(select(Synthesis).where(Synthesis.id == synthesis_id).execution_options(populate_existing=True))
    if synthesis is None or SYNTHESIS_RANKS[outcome] <= SYNTHESIS_RANKS.get(synthesis.status, 0):
        return
    synthesis.status = outcome
    synthesis.status_at = now
    if outcome == "sent":
        synthesis.message_id = message.provider_id
    if outcome == "failed" and not info.get("receipt"):  # the platform's own SMTP server gave it up
        info = {**info, "explained": f"l'opérateur MSSanté de la plateforme ne l'a pas acceptée ({message.last_error})"}
    synthesis.status_reason = (info.get("explained") or None) if outcome in ("refused", "failed") else None
    if request is not None:
        request.synthesis_status = outcome


def trail(message: OutboxMessage, outcome: str, now: datetime, info: dict[str, Any]) -> None:
    """Record on the request's trail what became of a secure message, of an SMS that did not arrive, and of offers that
    did not leave before the request's deadline (once per request and channel: `count` messages)."""
    if not message.request_id:
        return
    if outcome == "expired":
        late: dict[str, Any] = {"channel": message.channel, "count": info.get("count", 1)}
        if message.channel == "sms":
            late["physician_id"] = message.physician_id
        record_event(message.request_id, type=f"{message.kind}_expired", at=now, actor=NOBODY, data=late)
        return
    if message.channel == "mail" and info.get("receipt"):  # a delivery or read report (DSN, MDN) about it
        data: dict[str, Any] = {"to": message.address, "via": info["receipt"], "code": info.get("code")}
        if info.get("reason"):
            data["reason"] = info["reason"]  # French, without the address: shown to whoever sees the trail
        if info.get("diagnostic"):
            data["error"] = info["diagnostic"]  # the remote's own words, which may quote the address
        record_event(message.request_id, type=f"{message.kind}_{outcome}", at=now, actor=NOBODY, data=data)
    elif message.channel == "mail":
        data = {"to": message.address, "attempts": message.attempts}
        if outcome == "failed":
            data["error"] = message.last_error
        record_event(message.request_id, type=f"{message.kind}_{outcome}", at=now, actor=NOBODY, data=data)
    elif message.channel == "sms" and outcome == "failed":
        data = {"channel": "sms", "attempts": message.attempts, "error": message.last_error}
        if message.last_error and f"({NOT_MOBILE})" in message.last_error:
            data["reason"] = NOT_MOBILE  # a landline: the person will never get a text, the operator must call
        record_event(message.request_id, type=f"{message.kind}_failed", at=now, actor=NOBODY, data=data)
    elif message.channel == "sms" and outcome == "undelivered":
        record_event(
            message.request_id,
            type=f"{message.kind}_undelivered",
            at=now,
            actor=NOBODY,
            data={"channel": "sms", "provider_status": message.provider_status, "error_code": info.get("error_code")},
        )


def _community_of(message: OutboxMessage) -> Community | None:
    """Return the community a message speaks for: the request's, else the physician's, else that of the member whose
    phone it goes to (invitations, resets); None for none."""
    community_id = None
    if message.request_id is not None:
        community_id = db.session.scalar(select(Request.community_id).where(Request.id == message.request_id))
    if community_id is None and message.physician_id is not None:
        community_id = db.session.scalar(
            select(func.min(Membership.community_id))
            .join(Physician, Physician.user_id == Membership.user_id)
            .where(Physician.id == message.physician_id)
        )
    if community_id is None and message.address:
        community_id = db.session.scalar(
            select(func.min(Membership.community_id)).join(User, User.id == Membership.user_id).where(User.phone == message.address)
        )
    return db.session.get(Community, community_id) if community_id is not None else None


def sms_budget(message: OutboxMessage) -> tuple[int, int, str] | None:
    """Return the community an SMS is counted against, as (id, daily budget, timezone); None for none."""
    community = _community_of(message)
    return (community.id, community.sms_daily_budget, community.timezone) if community is not None else None


def sms_sender(message: OutboxMessage) -> str | None:
    """Return the sender of the community an SMS speaks for; None: the installation's (DISPATCH_SMS_FROM)."""
    community = _community_of(message)
    return community.sms_sender if community is not None else None


def mailboxes() -> list[str]:
    """Return the communities' own MSSanté mailboxes, read for the receipts of what they sent."""
    return sorted(set(db.session.scalars(select(Community.mssante_from).where(Community.mssante_from.is_not(None)))))


BUDGET_SUBJECT = "SNP Dispatch : budget SMS du jour épuisé pour {name}"
BUDGET_BODY = (
    "Bonjour,\n\n"
    "Le budget de {budget} SMS par jour de la communauté {name} est épuisé pour aujourd'hui ({day}). Les SMS suivants "
    "ne partent pas (statut « budget épuisé ») jusqu'à minuit : offres aux médecins sans application, SMS aux "
    "patients, invitations et liens de mot de passe.\n\n"
    "Si ce volume est attendu, relevez le budget de la communauté (réglage sms_daily_budget). Sinon, il peut "
    "s'agir d'envois abusifs (invitations ou réinitialisations en série) : vérifiez le journal des membres.\n\n"
    "SNP Dispatch\n"
)


def budget_spent(community_id: int, day: date, now: datetime) -> None:
    """Tell every active admin with an email that a community's SMS budget of the day ran out (once that day)."""
    community = db.session.get(Community, community_id)
    if community is None:
        return
    admins = db.session.scalars(select(User).where(User.role == "admin", User.active.is_(True), User.email.is_not(None)))
    for admin in admins:
        enqueue(
            channel="mail",
            kind=BUDGET_KIND,
            key=f"sms-budget-{community_id}-{day.isoformat()}-{admin.id}",
            now=now,
            address=admin.email,
            payload={
                "subject": BUDGET_SUBJECT.format(name=community.name),
                "body": BUDGET_BODY.format(budget=community.sms_daily_budget, name=community.name, day=day.strftime("%d/%m/%Y")),
            },
        )


SENT_MARK = "[envoyé]"


def link_spent(message: OutboxMessage, outcome: str, now: datetime, info: dict[str, Any]) -> None:
    """Blank a message's link (a password, an invitation, an offer's sign-in) once sent or given up: the outbox keeps
    no usable secret."""
    link = message.payload.get("link")
    if outcome not in ("sent", "failed", "expired") or not link or link == SENT_MARK:
        return
    # A new dict: the JSON column sees an assignment, not an in-place change.
    message.payload = {
        key: value.replace(link, SENT_MARK) if isinstance(value, str) else value for key, value in message.payload.items()
    }


HOOKS = Hooks(
    devices=devices,
    forget_devices=forget_devices,
    reached=reached,
    phone_of=phone_of,
    sms_of=sms_of,
    offer_windows=offer_windows,
    current_offer=current_offer,
    delivered={
        "synthesis": synthesis_delivered,
        RESET_KIND: link_spent,
        INVITATION_KIND: link_spent,
        "offer_sms": link_spent,
        LOOKUP_KIND: mailbox_answered,  # the national directory's answer about a treating GP's MSSanté box
        PATIENT_KIND: patient_placed,  # the Géoplateforme's answer about a request's patient
        PRACTICE_KIND: practice_placed,  # and about a member's practice
        None: trail,
    },
    sms_budget=sms_budget,
    budget_spent=budget_spent,
    sms_sender=sms_sender,
    mailboxes=mailboxes,
)


def register(app: Flask) -> None:
    """Give the app's sender and provider callbacks the hooks of the requests' domain."""
    app.extensions["dispatch.hooks"] = HOOKS
