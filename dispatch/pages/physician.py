"""The physician's pages, reached from the SMS link: open offers, accept or refuse, the outcome, availability."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from dispatch import policy, texts
from dispatch.communities import service as communities
from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.escalation import service
from dispatch.escalation.machine import OPEN_STATES, current_deadline
from dispatch.escalation.models import Offer, Request
from dispatch.pages import bp
from dispatch.pages.common import LABELS, iso, local_time, validate
from dispatch.pages.guard import role_page, signed_in
from dispatch.policy import Action
from dispatch.requests import disclosure
from dispatch.requests.edge import actor, load_request, rejected
from dispatch.requests.schemas import AcceptIn, OutcomeIn, RefuseIn
from dispatch.web import client_label, now


def current_physician() -> Physician:
    """Return the signed-in physician's record, or answer 403."""
    return policy.acting_physician(signed_in())


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


def _visible(request_id: int, action: Action = Action.READ) -> tuple[Physician, Request]:
    """Return the physician and the request if the policy lets them do `action` to it; 403 or 404 otherwise."""
    physician = current_physician()
    req = load_request(request_id)
    disclosure.require(physician.user, action, req)
    return physician, req


@bp.route("/m/")
@role_page(Action.ACCEPT)
def offers() -> Any:
    """List the requests offered to me now, and the patients I took who wait for an outcome."""
    physician = current_physician()
    at = now()
    query = (
        select(Request)
        .join(Offer, Offer.request_id == Request.id)
        .where(
            Offer.physician_id == physician.id,
            Offer.status.in_(("notified", "refused")),
            Request.state.in_(OPEN_STATES),
            Request.expires_at > at,
        )
        .order_by(Request.id.desc())
        .limit(200)
    )
    open_offers = disclosure.show_many(
        physician.user,
        db.session.scalars(query),
        what="offers",
        now=at,
        client=client_label(),
        offered=True,
        extra=lambda r: {"deadline": local_time(current_deadline(r.state, r.exclusive_until, r.expires_at), r.community.timezone)},
    )
    taken = db.session.scalars(
        select(Request)
        .where(Request.accepted_by_id == physician.id, Request.state == "accepted")
        .order_by(Request.appointment_at)
        .limit(50)
    )
    mine = disclosure.show_many(
        physician.user,
        taken,
        what="offers",
        now=at,
        client=client_label(),
        extra=lambda r: {"time": local_time(r.appointment_at, r.community.timezone)},
    )
    return render_template(
        "pages/offers.html", offers=open_offers, mine=mine, labels=LABELS, available=physician.is_available(at), physician=physician
    )


def _request_page(
    request_id: int, *, errors: dict[str, list[str]] | None = None, form: dict[str, str] | None = None, status: int = 200
) -> Any:
    physician, req = _visible(request_id)
    at = now()
    tz = req.community.timezone
    offer = db.session.scalar(select(Offer).where(Offer.request_id == req.id, Offer.physician_id == physician.id))
    can_answer = req.state in OPEN_STATES and offer is not None and offer.status in ("notified", "refused")
    refused = offer is not None and offer.status == "refused"
    defaults = {"time": next_quarter(at, tz), "place": physician.address or ""}
    deadline = current_deadline(req.state, req.exclusive_until, req.expires_at)
    shown = disclosure.show(physician.user, req, what="request", now=at, client=client_label())
    return render_template(
        "pages/offer.html",
        req=shown,
        labels=LABELS,
        errors=errors or {},
        form={**defaults, **(form or {})},
        can_answer=can_answer,
        refused=refused,
        mine=req.accepted_by_id == physician.id,
        deadline=local_time(deadline, tz),
        deadline_iso=iso(deadline),
        now=iso(at),
        appointment=local_time(req.appointment_at, tz, "%d/%m à %H:%M"),
    ), status


@bp.route("/m/requests/<int:request_id>")
@role_page(Action.ACCEPT)
def offer(request_id: int) -> Any:
    """Show a request to a physician: anonymised if it is only offered to them."""
    return _request_page(request_id)


@bp.route("/m/requests/<int:request_id>/accepter", methods=["POST"])
@role_page(Action.ACCEPT)
def accept(request_id: int) -> Any:
    """Take the patient at the chosen time and place; the first acceptance wins."""
    physician, req = _visible(request_id, Action.ACCEPT)
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
        service.accept(
            request=req,
            physician=physician,
            appointment_at=args["appointment_at"],
            place=args.get("place"),
            now=at,
            actor=actor(physician.user),
        )
    except service.Rejected as exc:
        flash(rejected(exc).detail or "", "error")
        return redirect(url_for("pages.offer", request_id=request_id))
    flash("Vous avez pris ce patient : il reçoit un SMS avec le rendez-vous.", "ok")
    return redirect(url_for("pages.offer", request_id=request_id))


@bp.route("/m/requests/<int:request_id>/refuser", methods=["POST"])
@role_page(Action.ACCEPT)
def refuse(request_id: int) -> Any:
    """Decline the request; the treating GP's refusal opens it to the community at once."""
    physician, req = _visible(request_id, Action.REFUSE)
    args, errors = validate(RefuseIn(), {"reason": request.form["reason"]} if request.form.get("reason", "").strip() else {})
    if args is None:
        return _request_page(request_id, errors=errors, status=422)
    try:
        service.refuse(request=req, physician=physician, reason=args.get("reason"), now=now(), actor=actor(physician.user))
    except service.Rejected as exc:
        flash(rejected(exc).detail or "", "error")
        return redirect(url_for("pages.offer", request_id=request_id))
    flash("Refus enregistré. Merci d'avoir répondu.", "ok")
    return redirect(url_for("pages.offers"))


@bp.route("/m/requests/<int:request_id>/issue", methods=["POST"])
@role_page(Action.ACCEPT)
def outcome(request_id: int) -> Any:
    """Record whether the patient came, with the synthesis for their treating GP."""
    physician, req = _visible(request_id)
    data = {k: request.form[k] for k in ("outcome", "synthesis") if request.form.get(k, "").strip()}
    args, errors = validate(OutcomeIn(), data)
    disclosure.require(physician.user, Action.OUTCOME, req)
    if args is None:
        return _request_page(request_id, errors=errors, form=data, status=422)
    try:
        service.record_outcome(
            request=req,
            physician=physician,
            outcome=args["outcome"],
            synthesis=args.get("synthesis"),
            now=now(),
            actor=actor(physician.user),
        )
    except service.Rejected as exc:
        flash(rejected(exc).detail or "", "error")
    else:
        flash("Issue enregistrée." + (" La synthèse part au médecin traitant." if args["outcome"] == "seen" else ""), "ok")
    return redirect(url_for("pages.offer", request_id=request_id))


@bp.route("/m/disponibilite", methods=["POST"])
@role_page(Action.ACCEPT)
def availability() -> Any:
    """Switch whether I take requests."""
    physician = current_physician()
    available = request.form.get("available") == "1"
    communities.set_availability(physician=physician, available=available, until=None)
    flash("Vous recevez les demandes." if available else "Vous ne recevez plus de demandes.", "ok")
    return redirect(url_for("pages.offers"))
