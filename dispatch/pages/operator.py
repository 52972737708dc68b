"""The operator console: triage and open a request, follow today's requests live, read and cancel one."""

from __future__ import annotations

import secrets
from datetime import datetime, time
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import or_, select

from dispatch import policy, texts
from dispatch.auth.models import Membership, User
from dispatch.calls import service as calls
from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.escalation import service
from dispatch.escalation.machine import OPEN_STATES, current_deadline
from dispatch.escalation.models import MOTIVES, SOURCES, Event, Request
from dispatch.pages import bp
from dispatch.pages.common import (
    LABELS,
    STATE_LABELS,
    iso,
    local_time,
    nested_form,
    pick_community,
    user_communities,
    validate,
)
from dispatch.pages.guard import role_page, signed_in
from dispatch.policy import Action
from dispatch.requests import disclosure, opening
from dispatch.requests.edge import actor, load_request, rejected
from dispatch.requests.schemas import CancelIn, RequestIn
from dispatch.web import client_label, now

TRIAGE = {
    "vital": "Urgence vitale : transférez l'appel au 15 (SAMU). Aucune demande n'est créée.",
    "refused": "Renouvellement d'ordonnance ou certificat : la demande est refusée selon le protocole. Aucune demande n'est créée.",
    "other": "Patient orienté ailleurs (pharmacie, consultation programmée...). Aucune demande n'est créée.",
}
# What a triage without a request records as the call's outcome (POST /calls).
TRIAGE_OUTCOMES = {"vital": "emergency_15", "refused": "renewal_refused", "other": "other_orientation"}


def today_requests(community: Community, at: datetime) -> list[Request]:
    """Return the community's requests opened today (local time) and those still open, newest first."""
    midnight = datetime.combine(
        texts.local(at, community.timezone).date(), time(0), tzinfo=texts.local(at, community.timezone).tzinfo
    )
    query = (
        select(Request)
        .where(Request.community_id == community.id, or_(Request.opened_at >= midnight, Request.state.in_(OPEN_STATES)))
        .order_by(Request.id.desc())
        .limit(200)
    )
    return list(db.session.scalars(query))


def row(shown: dict[str, Any], tz: str) -> dict[str, Any]:
    """Return what the live list shows of a request, from the view the policy gave of it."""
    deadline = current_deadline(shown["state"], shown["exclusive_until"], shown["expires_at"])
    patient, accepted = shown["patient"], shown["accepted_by"]
    return {
        "id": shown["id"],
        "state": shown["state"],
        "state_label": STATE_LABELS.get(shown["state"], shown["state"]),
        "motive": texts.MOTIVE_LABELS.get(shown["motive"], shown["motive"]),
        "patient": f"{patient.get('first_name', '')} {patient.get('last_name', '').upper()}".strip(),
        "phone": patient.get("phone") or "",
        "opened": local_time(shown["opened_at"], tz),
        "deadline": iso(deadline),
        "deadline_label": local_time(deadline, tz),
        "accepted_by": accepted["name"] if accepted else "",
        "appointment": local_time(shown["appointment_at"], tz, "le %d/%m à %H:%M"),
        "url": url_for("pages.console_request", request_id=shown["id"]),
        "called_back": shown.get("callback") is not None,  # every console drops the expiry banner once recorded
    }


def live_rows(user: User, community: Community, at: datetime) -> list[dict[str, Any]]:
    """Return today's requests as the list shows them: each one's view is the policy's, and recorded when full."""
    shown = disclosure.show_many(user, today_requests(community, at), what="list", now=at, client=client_label())
    return [row(item, community.timezone) for item in shown]


def _console(
    community: Community,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    triage: str | None = None,
    status: int = 200,
) -> Any:
    user = signed_in(Action.LIST)
    at = now()
    rows = live_rows(user, community, at)
    return render_template(
        "pages/console.html",
        community=community,
        rows=rows,
        now=iso(at),
        labels=LABELS,
        values=values or {"source": "cot", "treating_physician": {"status": "unknown"}},
        errors=errors or {},
        triage=triage,
        triage_text=TRIAGE.get(triage or ""),
        communities=user_communities(user, Action.LIST),
        key=secrets.token_urlsafe(16),
    ), status


@bp.route("/console")
@role_page(Action.LIST)
def console() -> Any:
    """Show the form to open a request, the triage protocol and today's requests."""
    user = signed_in()
    return _console(pick_community(user, Action.LIST))


@bp.route("/console", methods=["POST"])
@role_page(Action.LIST)
def console_open() -> Any:
    """Apply the triage protocol, then open the request through the same service as the API."""
    user = signed_in()
    community = pick_community(user, Action.LIST)
    data = nested_form(ints=("community_id",))
    triage = data.pop("triage", None)
    key = str(data.pop("idempotency_key", ""))[:200] or None
    data.pop("community", None)
    data["community_id"] = community.id
    treating = data.setdefault("treating_physician", {})
    if treating.get("status") != "declared":
        data["treating_physician"] = {k: v for k, v in treating.items() if k == "status"}
    if triage in TRIAGE:
        if policy.allows(user, Action.CALL, community_id=community.id):  # the call is counted, once per form
            source, motive = data.get("source"), data.get("motive")
            calls.record_call(
                community_id=community.id,
                operator_id=user.id,
                source=source if source in SOURCES else "other",
                outcome=TRIAGE_OUTCOMES[triage],
                motive=motive if motive in MOTIVES else None,
                now=now(),
                key=key,
            )
        return _console(community, values=data, triage=triage)
    errors: dict[str, list[str]] = {}
    if triage != "snp":
        errors["triage"] = ["Appliquez le protocole : choisissez la nature de l'appel."]
    if not policy.allows(user, Action.OPEN, community_id=community.id):
        errors["community_id"] = ["Seuls les opérateurs et coordinateurs de la communauté ouvrent des demandes."]
    args, invalid = validate(RequestIn(), data)
    errors.update(invalid)
    if errors or args is None:
        return _console(community, values=data, errors=errors, triage=triage, status=422)
    existing = opening.find_existing(opened_by_id=user.id, key=key)
    try:
        opened = (
            opening.Opened(existing)
            if existing
            else opening.open_from_input(
                community=community, args=args, opened_by=user, now=now(), actor=actor(user), idempotency_key=key
            )
        )
    except opening.Invalid as exc:
        return _console(community, values=data, errors=exc.errors, triage=triage, status=422)
    flash(f"Demande n° {opened.request.id} ouverte.", "ok")
    for changed in opened.warnings:  # the operator is told when the address differs from the one the directory had
        flash(
            f"Attention : l'adresse MSSanté du médecin traitant diffère de celle connue ({changed['before']}) ; "
            f"la nouvelle ({changed['after']}) est retenue.",
            "warn",
        )
    return redirect(url_for("pages.console_request", request_id=opened.request.id))


@bp.route("/console/live")
@role_page(Action.LIST)
def console_live() -> Any:
    """Answer today's requests as JSON, for the console's live list and countdowns."""
    user = signed_in()
    community = pick_community(user, Action.LIST)
    at = now()
    return jsonify({"now": iso(at), "requests": live_rows(user, community, at)})


@bp.route("/console/medecins")
@role_page(Action.LIST)
def physician_search() -> Any:
    """Find the community's physicians by name or RPPS, to name the treating GP."""
    user = signed_in()
    community = pick_community(user, Action.LIST)
    q = request.args.get("q", "").strip()[:100]
    if len(q) < 2:
        return jsonify([])
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (
        select(Physician, User)
        .join(User, User.id == Physician.user_id)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.community_id == community.id,
            Membership.role == "physician",
            or_(User.name.ilike(f"%{escaped}%", escape="\\"), Physician.rpps.startswith(q, autoescape=True)),
        )
        .order_by(User.name)
        .limit(10)
    )
    at = now()
    return jsonify(
        [
            {
                "rpps": p.rpps,
                "name": u.name,
                "kind": texts.KIND_LABELS.get(p.kind, p.kind),
                "available": p.is_available(at) and u.active,
            }
            for p, u in db.session.execute(query)
        ]
    )


@bp.route("/console/demandes/<int:request_id>")
@role_page(Action.LIST)
def console_request(request_id: int) -> Any:
    """Show a request in full with its timeline, and the form to cancel it."""
    return _request_page(request_id)


def _request_page(request_id: int, *, errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    user = signed_in()
    req = load_request(request_id)
    held = disclosure.require(user, Action.EVENTS, req)  # the page shows the timeline: the events' audience
    at = now()
    shown = disclosure.show(user, req, what="request", now=at, client=client_label())
    rows = db.session.execute(
        select(Event, User).outerjoin(User, User.id == Event.actor_id).where(Event.request_id == req.id).order_by(Event.id.desc())
    )
    tz = req.community.timezone
    timeline = [
        {
            "at": local_time(e.at, tz, "%d/%m %H:%M:%S"),
            "type": e.type,
            "data": disclosure.event_data(e.data, held),
            "actor": u.name if u else "Système",
        }
        for e, u in rows
    ]
    return render_template(
        "pages/console_request.html",
        req=shown,
        model=req,
        row=row(shown, tz),
        timeline=timeline,
        labels=LABELS,
        now=iso(at),
        errors=errors or {},
        can_cancel=req.state in OPEN_STATES and disclosure.allows(user, Action.CANCEL, req),
        tz=tz,
    ), status


@bp.route("/console/demandes/<int:request_id>/annuler", methods=["POST"])
@role_page(Action.LIST)
def console_cancel(request_id: int) -> Any:
    """Cancel an open request with a reason; every phone it was offered to is cleared."""
    user = signed_in()
    req = load_request(request_id)
    disclosure.require(user, Action.CANCEL, req)  # as the API: the admin does not cancel (403)
    args, errors = validate(CancelIn(), {k: v for k, v in request.form.items() if k == "reason" and v.strip()})
    if args is None:
        return _request_page(request_id, errors=errors, status=422)
    try:
        service.cancel(request=req, reason=args["reason"], now=now(), actor=actor(user))
    except service.Rejected as exc:
        flash(rejected(exc).detail or "", "error")
    else:
        flash(f"Demande n° {req.id} annulée.", "ok")
    return redirect(url_for("pages.console_request", request_id=req.id))
