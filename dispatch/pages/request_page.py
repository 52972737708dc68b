"""A request's page in the console: read it with its history in French, cancel it, record the call-back, relaunch it,
correct the patient's identity.

The cancellation, the call-back, the relaunch and the correction are the same use cases as `POST /requests/{id}/cancel`,
`/callback`, `/relaunch` and `PATCH /requests/{id}/patient`; the
console's expiry banner posts its call-back here with `Accept: application/json` and stays on the console.
"""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from dispatch.auth.models import User
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.pages import bp, history
from dispatch.pages.common import LABELS, iso, local_time, phone_link, validate
from dispatch.pages.guard import role_page, signed_in
from dispatch.pages.live import request_signature
from dispatch.pages.operator import row
from dispatch.policy import Action
from dispatch.privacy import subjects
from dispatch.privacy.schemas import PatientPatchIn
from dispatch.requests import disclosure, operator_actions
from dispatch.requests.engine import Rejected, load_request
from dispatch.requests.models import Event, Request
from dispatch.requests.schemas import CallbackIn, CancelIn
from dispatch.requests.states import OPEN_STATES, State
from dispatch.web import client_label, now

NB = history.NB


@bp.route("/console/demandes/<int:request_id>")
@role_page(Action.LIST)
def console_request(request_id: int) -> Any:
    """Show a request in full with its history, and what the operator can do next (cancel, call back, relaunch)."""
    return _request_page(request_id)


def _request_page(
    request_id: int,
    *,
    errors: dict[str, list[str]] | None = None,
    form: dict[str, Any] | None = None,
    identity: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    user = signed_in()
    req = load_request(request_id)
    held = disclosure.require(user, Action.EVENTS, req)  # the page shows the history: the events' audience
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
            "actor": u.name if u else "Système",
            **history.describe(e.type, disclosure.event_data(e.data, held), tz, profession=req.profession),
        }
        for e, u in rows
    ]
    relaunched_by = db.session.scalars(select(Request.id).where(Request.relaunch_of_id == req.id).order_by(Request.id)).all()
    callback_by = db.session.get(User, req.callback_by_id) if req.callback_by_id else None
    return render_template(
        "pages/console_request.html",
        req=shown,
        model=req,
        row=row(shown, tz),
        timeline=timeline,
        labels=LABELS,
        now=iso(at),
        signature=request_signature(req),
        errors=errors or {},
        form=form or {},
        can_cancel=req.state in OPEN_STATES and disclosure.allows(user, Action.CANCEL, req),
        can_call_back=req.state == State.EXPIRED and req.callback_result is None and disclosure.allows(user, Action.CALLBACK, req),
        can_relaunch=req.state == State.EXPIRED and not relaunched_by and disclosure.allows(user, Action.RELAUNCH, req),
        callback_results=history.CALLBACK_LABELS,
        callback_at=local_time(req.callback_at, tz, "%d/%m à %H:%M"),
        callback_by=callback_by.name if callback_by else "",
        relaunched_by=relaunched_by,
        phone=phone_link((shown["patient"] or {}).get("phone")),
        tz=tz,
        can_rectify=shown["patient"] is not None and disclosure.allows(user, Action.RECTIFY, req),
        identity=identity or _identity(shown["patient"]),
        sexes=SEXES,
        unplaced=_unplaced(req),
        located=_located(req),
    ), status


def _located(req: Request) -> str | None:
    """Return how precisely the patient was placed and where ("au numéro — Champigny-sur-Marne"), if placed."""
    if req.patient_lat is None or req.patient_precision is None:
        return None
    how = history.PRECISION_LABELS.get(req.patient_precision, "")
    return f"{how} — {req.patient_commune}" if req.patient_commune else how


def _unplaced(req: Request) -> str | None:
    """Return what the operator must know when the patient is not placed and the request has waves by distance."""
    if req.state not in OPEN_STATES or req.patient_lat is not None or not req.plan_waves:
        return None
    return history.unplaced_notice(profession=req.profession, state=req.state)


SEXES = {"F": "Femme", "M": "Homme", "U": "Non précisé"}


def _identity(patient: dict[str, Any] | None) -> dict[str, str]:
    """Return the patient's identity as the correction form shows it first."""
    patient = patient or {}
    birth = patient.get("birth_date")
    return {
        "first_name": patient.get("first_name") or "",
        "last_name": patient.get("last_name") or "",
        "birth_date": birth.isoformat() if birth else "",
        "sex": patient.get("sex") or "",
        "phone": (phone_link(patient.get("phone")) or {}).get("text", ""),
        "reference": "",
    }


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
        operator_actions.cancel_request(user=user, request_id=request_id, reason=args["reason"], now=now(), client=client_label())
    except Rejected as exc:
        flash(exc.detail or "", "error")
    else:
        flash(f"Demande n° {req.id} annulée.", "ok")
    return redirect(url_for("pages.console_request", request_id=req.id))


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.route("/console/demandes/<int:request_id>/rappel", methods=["POST"])
@role_page(Action.LIST)
def console_callback(request_id: int) -> Any:
    """Record the call-back of an expired request's patient; "relancé" opens the relaunch and shows it."""
    user = signed_in()
    req = load_request(request_id)
    disclosure.require(user, Action.CALLBACK, req)
    form = {k: v for k, v in request.form.items() if k in ("result", "note") and v.strip()}
    args, errors = validate(CallbackIn(), form)
    if args is None:
        if "result" in errors:
            errors["result"] = ["Choisissez le résultat du rappel."]
        if _wants_json():
            raise Problem(422, "invalid", "Choisissez le résultat du rappel.", errors=errors)
        return _request_page(request_id, errors=errors, form=form, status=422)
    try:
        operator_actions.call_back(
            user=user, request_id=request_id, result=args["result"], note=args.get("note"), now=now(), client=client_label()
        )
    except Rejected as exc:
        if _wants_json():
            raise
        flash(exc.detail or "", "error")
        return redirect(url_for("pages.console_request", request_id=request_id))
    result = history.lower_first(history.CALLBACK_LABELS[args["result"]])
    message = f"Rappel de la demande n° {request_id} enregistré{NB}: {result}."
    location = None
    if args["result"] == "relaunched":
        new = operator_actions.relaunch(user=user, request_id=request_id, now=now(), client=client_label())
        message = f"Demande n° {request_id} relancée{NB}: nouvelle demande n° {new['id']}."
        location = url_for("pages.console_request", request_id=new["id"])
    if _wants_json():
        return jsonify({"message": message, "location": location})
    flash(message, "ok")
    return redirect(location or url_for("pages.console_request", request_id=request_id))


@bp.route("/console/demandes/<int:request_id>/relancer", methods=["POST"])
@role_page(Action.LIST)
def console_relaunch(request_id: int) -> Any:
    """Open a new request for the same patient and motive, with fresh windows, and show it."""
    user = signed_in()
    req = load_request(request_id)
    disclosure.require(user, Action.RELAUNCH, req)
    try:
        new = operator_actions.relaunch(user=user, request_id=request_id, now=now(), client=client_label())
    except Rejected as exc:
        flash(exc.detail or "", "error")
        # Relaunched from another console meanwhile: the new request is the one to follow.
        return redirect(url_for("pages.console_request", request_id=exc.extra.get("relaunched_as") or request_id))
    flash(f"Demande n° {request_id} relancée{NB}: nouvelle demande n° {new['id']}.", "ok")
    return redirect(url_for("pages.console_request", request_id=new["id"]))


@bp.route("/console/demandes/<int:request_id>/patient", methods=["POST"])
@role_page(Action.LIST)
def console_rectify(request_id: int) -> Any:
    """Correct the patient's identity or phone (the community's operators), as `PATCH /requests/{id}/patient` does."""
    user = signed_in()
    req = load_request(request_id)
    disclosure.require(user, Action.RECTIFY, req)
    typed = {name: request.form.get(name, "").strip() for name in (*subjects.RECTIFIABLE, "reference")}
    args, errors = validate(PatientPatchIn(), {name: value for name, value in typed.items() if value})
    if args is None:
        return _request_page(request_id, errors=errors, identity=typed, status=422)
    reference = args.pop("reference", None)
    try:
        subjects.rectify_patient(
            user=user, request_id=request_id, changes=args, reference=reference, now=now(), client=client_label()
        )
    except Problem as exc:
        if exc.code == 422 and exc.errors:
            return _request_page(request_id, errors=exc.errors, identity=typed, status=422)
        if exc.code != 409:
            raise
        flash(exc.detail or "", "error")
    else:
        flash(f"Identité du patient de la demande n° {request_id} corrigée.", "ok")
    return redirect(url_for("pages.console_request", request_id=request_id))
