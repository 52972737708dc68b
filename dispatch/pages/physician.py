"""The physician's pages, reached from the SMS link: open offers, accept or refuse, the outcome, availability."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from dispatch import texts
from dispatch.communities import service as communities
from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.escalation import service
from dispatch.escalation.machine import OPEN_STATES
from dispatch.escalation.models import Offer, Request
from dispatch.pages import bp
from dispatch.pages.common import LABELS, iso, local_time, validate
from dispatch.pages.guard import role_page
from dispatch.requests.access import load_request, view_level
from dispatch.requests.schemas import present
from dispatch.requests.views import actor, rejected
from dispatch.web import current_physician, now, runtime
from mobile_api.views import AcceptIn, OutcomeIn, RefuseIn


def next_quarter(at: datetime, tz: str) -> str:
    """Return the next quarter hour after `at`, as local HH:MM."""
    local = texts.local(at, tz).replace(second=0, microsecond=0)
    return (local + timedelta(minutes=15 - local.minute % 15)).strftime("%H:%M")


def appointment_from(hhmm: str, at: datetime, tz: str) -> str | None:
    """Return the next local occurrence of HH:MM (today, or tomorrow if already well past) in ISO 8601."""
    try:
        hour, minute = (int(part) for part in hhmm.split(":", 1))
        local = texts.local(at, tz).replace(hour=hour, minute=minute, second=0, microsecond=0)
    except ValueError:
        return None
    if local < texts.local(at, tz) - timedelta(minutes=30):
        local = (local + timedelta(days=1)).replace(hour=hour, minute=minute)
    return local.isoformat()


def _visible(request_id: int) -> tuple[Physician, Request, str]:
    """Return the physician, the request and how much they may see of it; 404 if not at all."""
    physician = current_physician()
    req = load_request(request_id)
    level = view_level(physician.user, req)
    if level is None:
        raise Problem(404, "not_found", "Demande introuvable.")
    return physician, req, level


@bp.route("/m/")
@role_page("physician")
def offers() -> Any:
    """List the requests offered to me now, and the patients I took who wait for an outcome."""
    physician = current_physician()
    at = now()
    query = (select(Request).join(Offer, Offer.request_id == Request.id)
             .where(Offer.physician_id == physician.id, Offer.status.in_(("notified", "refused")),
                    Request.state.in_(OPEN_STATES), Request.expires_at > at)
             .order_by(Request.id.desc()).limit(200))
    open_offers = [present(r, full=r.treating_physician_id == physician.id, now=at) | {
        "deadline": local_time(r.exclusive_until if r.state == "exclusive" else r.expires_at, r.community.timezone)}
        for r in db.session.scalars(query)]
    taken = list(db.session.scalars(select(Request).where(Request.accepted_by_id == physician.id,
                                                          Request.state == "accepted")
                                    .order_by(Request.appointment_at).limit(50)))
    mine = [present(r, full=True, now=at) | {"time": local_time(r.appointment_at, r.community.timezone)}
            for r in taken]
    return render_template("pages/offers.html", offers=open_offers, mine=mine, labels=LABELS,
                           available=physician.is_available(at), physician=physician)


def _request_page(request_id: int, *, errors: dict[str, list[str]] | None = None,
                  form: dict[str, str] | None = None, status: int = 200) -> Any:
    physician, req, level = _visible(request_id)
    at = now()
    tz = req.community.timezone
    offer = db.session.scalar(select(Offer).where(Offer.request_id == req.id, Offer.physician_id == physician.id))
    can_answer = req.state in OPEN_STATES and offer is not None and offer.status in ("notified", "refused")
    refused = offer is not None and offer.status == "refused"
    defaults = {"time": next_quarter(at, tz), "place": physician.address or ""}
    return render_template(
        "pages/offer.html", req=present(req, full=level == "full", now=at), labels=LABELS, errors=errors or {},
        form={**defaults, **(form or {})}, can_answer=can_answer, refused=refused,
        mine=req.accepted_by_id == physician.id, deadline=local_time(
            req.exclusive_until if req.state == "exclusive" else req.expires_at, tz),
        deadline_iso=iso(req.exclusive_until if req.state == "exclusive" else req.expires_at), now=iso(at),
        appointment=local_time(req.appointment_at, tz, "%d/%m à %H:%M")), status


@bp.route("/m/requests/<int:request_id>")
@role_page("physician")
def offer(request_id: int) -> Any:
    """Show a request to a physician: anonymised if it is only offered to them."""
    return _request_page(request_id)


@bp.route("/m/requests/<int:request_id>/accepter", methods=["POST"])
@role_page("physician")
def accept(request_id: int) -> Any:
    """Take the patient at the chosen time and place; the first acceptance wins."""
    physician, req, _level = _visible(request_id)
    at = now()
    form = {"time": request.form.get("time", ""), "place": request.form.get("place", "")}
    data: dict[str, Any] = {"place": form["place"]} if form["place"].strip() else {}
    when = appointment_from(form["time"], at, req.community.timezone)
    if when is not None:
        data["appointment_at"] = when
    args, errors = validate(AcceptIn(), data)
    if when is None:
        errors = {**errors, "appointment_at": ["Indiquez l'heure du rendez-vous (HH:MM)."]}
    if args is None or errors:
        return _request_page(request_id, errors=errors, form=form, status=422)
    try:
        service.accept(request=req, physician=physician, appointment_at=args["appointment_at"],
                       place=args.get("place"), now=at, actor=actor(physician.user))
    except service.Rejected as exc:
        flash(rejected(exc).detail or "", "error")
        return redirect(url_for("pages.offer", request_id=request_id))
    runtime().wake()
    flash("Vous avez pris ce patient : il reçoit un SMS avec le rendez-vous.", "ok")
    return redirect(url_for("pages.offer", request_id=request_id))


@bp.route("/m/requests/<int:request_id>/refuser", methods=["POST"])
@role_page("physician")
def refuse(request_id: int) -> Any:
    """Decline the request; the treating GP's refusal opens it to the community at once."""
    physician, req, _level = _visible(request_id)
    args, errors = validate(RefuseIn(), {"reason": request.form["reason"]} if request.form.get("reason", "").strip()
                            else {})
    if args is None:
        return _request_page(request_id, errors=errors, status=422)
    try:
        service.refuse(request=req, physician=physician, reason=args.get("reason"), now=now(),
                       actor=actor(physician.user))
    except service.Rejected as exc:
        flash(rejected(exc).detail or "", "error")
        return redirect(url_for("pages.offer", request_id=request_id))
    runtime().wake()
    flash("Refus enregistré. Merci d'avoir répondu.", "ok")
    return redirect(url_for("pages.offers"))


@bp.route("/m/requests/<int:request_id>/issue", methods=["POST"])
@role_page("physician")
def outcome(request_id: int) -> Any:
    """Record whether the patient came, with the synthesis for their treating GP."""
    physician, req, _level = _visible(request_id)
    data = {k: request.form[k] for k in ("outcome", "synthesis") if request.form.get(k, "").strip()}
    args, errors = validate(OutcomeIn(), data)
    if req.accepted_by_id != physician.id:
        raise Problem(403, "not_eligible", "Seul le médecin qui a accepté la demande peut en donner l'issue.")
    if args is None:
        return _request_page(request_id, errors=errors, form=data, status=422)
    try:
        service.record_outcome(request=req, physician=physician, outcome=args["outcome"],
                               synthesis=args.get("synthesis"), now=now(), actor=actor(physician.user))
    except service.Rejected as exc:
        flash(rejected(exc).detail or "", "error")
    else:
        runtime().wake()
        flash("Issue enregistrée." + (" La synthèse part au médecin traitant." if args["outcome"] == "seen" else ""),
              "ok")
    return redirect(url_for("pages.offer", request_id=request_id))


@bp.route("/m/disponibilite", methods=["POST"])
@role_page("physician")
def availability() -> Any:
    """Switch whether I take requests."""
    physician = current_physician()
    available = request.form.get("available") == "1"
    communities.set_availability(physician=physician, available=available, until=None)
    flash("Vous recevez les demandes." if available else "Vous ne recevez plus de demandes.", "ok")
    return redirect(url_for("pages.offers"))
