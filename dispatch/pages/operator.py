"""The operator console: triage and open a request, follow today's requests live, read and cancel one."""

from __future__ import annotations

import secrets
from datetime import datetime, time
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import or_, select

from dispatch import texts
from dispatch.auth.models import Membership, User
from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.escalation import service
from dispatch.escalation.machine import OPEN_STATES
from dispatch.escalation.models import Event, Request
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
from dispatch.requests import opening
from dispatch.requests.access import staff_request
from dispatch.requests.schemas import RequestIn, present
from dispatch.requests.views import CancelIn, actor, rejected
from dispatch.web import member_role, now, runtime

STAFF = ("operator", "coordinator", "admin")
TRIAGE = {
    "vital": "Urgence vitale : transférez l'appel au 15 (SAMU). Aucune demande n'est créée.",
    "refused": "Renouvellement d'ordonnance ou certificat : la demande est refusée selon le protocole. "
               "Aucune demande n'est créée.",
}


def deadline_of(req: Request) -> datetime | None:
    """Return the next deadline the operator watches: end of the exclusive hour, then expiry."""
    if req.state == "exclusive":
        return req.exclusive_until
    if req.state == "community":
        return req.expires_at
    return None


def today_requests(community: Community, at: datetime) -> list[Request]:
    """Return the community's requests opened today (local time) and those still open, newest first."""
    midnight = datetime.combine(texts.local(at, community.timezone).date(), time(0), tzinfo=texts.local(
        at, community.timezone).tzinfo)
    query = (select(Request).where(Request.community_id == community.id,
                                   or_(Request.opened_at >= midnight, Request.state.in_(OPEN_STATES)))
             .order_by(Request.id.desc()).limit(200))
    return list(db.session.scalars(query))


def row(req: Request, tz: str) -> dict[str, Any]:
    """Return what the live list shows of a request."""
    accepted = req.accepted_by
    return {"id": req.id, "state": req.state, "state_label": STATE_LABELS.get(req.state, req.state),
            "motive": texts.MOTIVE_LABELS.get(req.motive, req.motive),
            "patient": f"{req.patient_first_name} {req.patient_last_name.upper()}",
            "phone": req.patient_phone or "", "opened": local_time(req.opened_at, tz),
            "deadline": iso(deadline_of(req)), "deadline_label": local_time(deadline_of(req), tz),
            "accepted_by": accepted.user.name if accepted else "",
            "appointment": local_time(req.appointment_at, tz),
            "url": url_for("pages.console_request", request_id=req.id)}


def _console(community: Community, *, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
             triage: str | None = None, status: int = 200) -> Any:
    user = signed_in(*STAFF)
    at = now()
    rows = [row(r, community.timezone) for r in today_requests(community, at)]
    return render_template("pages/console.html", community=community, rows=rows, now=iso(at), labels=LABELS,
                           values=values or {"source": "cot", "treating_physician": {"status": "unknown"}},
                           errors=errors or {}, triage=triage, triage_text=TRIAGE.get(triage or ""),
                           communities=user_communities(user, "operator", "coordinator"),
                           key=secrets.token_urlsafe(16)), status


@bp.route("/console")
@role_page(*STAFF)
def console() -> Any:
    """Show the form to open a request, the triage protocol and today's requests."""
    user = signed_in()
    return _console(pick_community(user, "operator", "coordinator"))


@bp.route("/console", methods=["POST"])
@role_page(*STAFF)
def console_open() -> Any:
    """Apply the triage protocol, then open the request through the same service as the API."""
    user = signed_in()
    community = pick_community(user, "operator", "coordinator")
    data = nested_form(ints=("community_id",))
    triage = data.pop("triage", None)
    key = str(data.pop("idempotency_key", ""))[:200] or None
    data.pop("community", None)
    data["community_id"] = community.id
    treating = data.setdefault("treating_physician", {})
    if treating.get("status") != "declared":
        data["treating_physician"] = {k: v for k, v in treating.items() if k == "status"}
    if triage in TRIAGE:
        return _console(community, values=data, triage=triage)
    errors: dict[str, list[str]] = {}
    if triage != "snp":
        errors["triage"] = ["Appliquez le protocole : choisissez la nature de l'appel."]
    if member_role(user, community.id) not in ("operator", "coordinator"):
        errors["community_id"] = ["Seuls les opérateurs et coordinateurs de la communauté ouvrent des demandes."]
    args, invalid = validate(RequestIn(), data)
    errors.update(invalid)
    if errors or args is None:
        return _console(community, values=data, errors=errors, triage=triage, status=422)
    existing = opening.find_existing(opened_by_id=user.id, key=key)
    opened = existing or opening.open_from_input(community=community, args=args, opened_by=user, now=now(),
                                                 actor=actor(user), idempotency_key=key)
    runtime().wake()
    flash(f"Demande n° {opened.id} ouverte.", "ok")
    return redirect(url_for("pages.console_request", request_id=opened.id))


@bp.route("/console/live")
@role_page(*STAFF)
def console_live() -> Any:
    """Answer today's requests as JSON, for the console's live list and countdowns."""
    user = signed_in()
    community = pick_community(user, "operator", "coordinator")
    at = now()
    rows = [row(r, community.timezone) for r in today_requests(community, at)]
    return jsonify({"now": iso(at), "requests": rows})


@bp.route("/console/medecins")
@role_page(*STAFF)
def physician_search() -> Any:
    """Find the community's physicians by name or RPPS, to name the treating GP."""
    user = signed_in()
    community = pick_community(user, "operator", "coordinator")
    q = request.args.get("q", "").strip()[:100]
    if len(q) < 2:
        return jsonify([])
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (select(Physician, User).join(User, User.id == Physician.user_id)
             .join(Membership, Membership.user_id == User.id)
             .where(Membership.community_id == community.id, Membership.role == "physician",
                    or_(User.name.ilike(f"%{escaped}%", escape="\\"), Physician.rpps.startswith(q, autoescape=True)))
             .order_by(User.name).limit(10))
    at = now()
    return jsonify([{"rpps": p.rpps, "name": u.name, "kind": texts.KIND_LABELS.get(p.kind, p.kind),
                     "available": p.is_available(at) and u.active} for p, u in db.session.execute(query)])


@bp.route("/console/demandes/<int:request_id>")
@role_page(*STAFF)
def console_request(request_id: int) -> Any:
    """Show a request in full with its timeline, and the form to cancel it."""
    return _request_page(request_id)


def _request_page(request_id: int, *, errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    user = signed_in()
    req = staff_request(user, request_id)
    at = now()
    rows = db.session.execute(select(Event, User).outerjoin(User, User.id == Event.actor_id)
                              .where(Event.request_id == req.id).order_by(Event.id.desc()))
    tz = req.community.timezone
    timeline = [{"at": local_time(e.at, tz, "%d/%m %H:%M:%S"), "type": e.type, "data": e.data,
                 "actor": u.name if u else "Système"} for e, u in rows]
    return render_template("pages/console_request.html", req=present(req, full=True, now=at), model=req,
                           row=row(req, tz), timeline=timeline, labels=LABELS, now=iso(at), errors=errors or {},
                           can_cancel=req.state in OPEN_STATES, tz=tz), status


@bp.route("/console/demandes/<int:request_id>/annuler", methods=["POST"])
@role_page(*STAFF)
def console_cancel(request_id: int) -> Any:
    """Cancel an open request with a reason; every phone it was offered to is cleared."""
    user = signed_in()
    req = staff_request(user, request_id)
    args, errors = validate(CancelIn(), {k: v for k, v in request.form.items() if k == "reason" and v.strip()})
    if args is None:
        return _request_page(request_id, errors=errors, status=422)
    try:
        service.cancel(request=req, reason=args["reason"], now=now(), actor=actor(user))
    except service.Rejected as exc:
        flash(rejected(exc).detail or "", "error")
    else:
        runtime().wake()
        flash(f"Demande n° {req.id} annulée.", "ok")
    return redirect(url_for("pages.console_request", request_id=req.id))
