"""The physician's pages, reached from the SMS link or the app: open offers, accept or refuse, the outcome, availability."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from dispatch import policy, texts
from dispatch.communities import service as communities
from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.pages import bp
from dispatch.pages.capacity_page import slot_label
from dispatch.pages.common import LABELS, appointment_label, cacheable, iso, local_time, phone_link, user_zone, validate
from dispatch.pages.guard import RESUME, limited_to, role_page, signed_in
from dispatch.pages.live import list_signature, offered_now
from dispatch.policy import Action
from dispatch.requests import capacity, disclosure, machine, offer_store, physician_actions
from dispatch.requests.engine import Rejected, load_request
from dispatch.requests.machine import current_deadline
from dispatch.requests.models import Offer, Request
from dispatch.requests.schemas import AcceptIn, OutcomeIn, RefuseIn, ReleaseIn
from dispatch.requests.states import OUTCOMES, OfferStatus, State
from dispatch.web import client_label, now

# What the outcome form says of the synthesis, and what is said once it is written, by its fate (machine.synthesis_status).
SYNTHESIS_HINTS = {
    "pending": "Envoyée par messagerie sécurisée (MSSanté) au médecin traitant.",
    "not_sendable": "Pas d'adresse MSSanté connue pour le médecin traitant : la synthèse est gardée et part dès qu'elle l'est.",
    "not_needed": "Vous êtes son médecin traitant : la synthèse reste dans votre dossier, rien n'est envoyé.",
}
NO_TREATING_HINT = "Le patient n'a pas déclaré de médecin traitant : la synthèse reste dans Mes patients."
SYNTHESIS_FLASH = {
    "pending": " La synthèse part au médecin traitant.",
    "not_sendable": " Pas d'adresse MSSanté connue pour le médecin traitant : la synthèse part dès qu'elle est connue.",
}


def current_physician() -> Physician:
    """Return the signed-in physician's record, or answer 403."""
    return policy.acting_physician(signed_in())


# The appointment's quick choices on the offer page: in 30 minutes, 1 hour, 2 hours.
QUICK = ((30, "30 min"), (60, "1 h"), (120, "2 h"))


def quick_time(at: datetime, minutes: int) -> datetime:
    """Return `at` plus `minutes`, on the next five minutes (a time a patient can be given)."""
    later = at + timedelta(minutes=minutes)
    base = later.replace(second=0, microsecond=0)
    if base < later:
        base += timedelta(minutes=1)
    return base + timedelta(minutes=-base.minute % 5)


def parse_appointment(day: str, hhmm: str, at: datetime, tz: str) -> tuple[datetime | None, str | None]:
    """Return the appointment for a local date (today if blank) and HH:MM, or why it cannot be read.

    Whether it falls in the appointment window is the use case's to say (`machine.APPOINTMENT_WINDOW`), as for the API.
    """
    try:
        when_day = date.fromisoformat(day.strip()) if day.strip() else texts.local(at, tz).date()
        hour, minute = (int(part) for part in hhmm.strip().split(":", 1))
        return datetime(when_day.year, when_day.month, when_day.day, hour, minute, tzinfo=ZoneInfo(tz)), None
    except ValueError:
        return None, "Indiquez la date et l'heure du rendez-vous (JJ/MM/AAAA et HH:MM)."


def visible(request_id: int, action: Action = Action.READ) -> tuple[Physician, Request]:
    """Return the physician and the request if the policy lets them do `action` to it; 403 or 404 otherwise."""
    physician = current_physician()
    req = load_request(request_id)
    disclosure.require(physician.user, action, req)
    return physician, req


@bp.route("/m/")
@role_page(Action.ACCEPT)
def offers() -> Any:
    """List the requests offered to me now, and the patients I took who wait for an outcome: no identity shown."""
    physician = current_physician()
    at = now()
    open_offers, mine = offered_now(physician.id, at)
    far = offer_store.distances([r.id for r in open_offers], physician_id=physician.id)
    cards = [
        disclosure.anonymised(r, now=at, distance_km=far.get((r.id, physician.id)))
        | {"deadline": local_time(current_deadline(r.state, r.exclusive_until, r.expires_at), r.community.timezone)}
        for r in open_offers
    ]
    taken = [
        disclosure.anonymised(r, now=at) | {"time": appointment_label(r.appointment_at, r.community.timezone, at)} for r in mine
    ]
    refused = request.args.get("refusee", type=int)
    page = render_template(
        "pages/offers.html",
        offers=cards,
        mine=taken,
        labels=LABELS,
        available=physician.is_available(at),
        slot=slot_label(capacity.capacity_of(physician=physician, now=at), user_zone(physician.user)),
        physician=physician,
        signature=list_signature(open_offers, mine),
        refused=refused if refused and refused not in {c["id"] for c in cards} else None,
        now=iso(at),
    )
    return cacheable(make_response(page))


def _request_page(
    request_id: int, *, errors: dict[str, list[str]] | None = None, form: dict[str, str] | None = None, status: int = 200
) -> Any:
    physician, req = visible(request_id)
    at = now()
    tz = req.community.timezone
    offer = db.session.scalar(select(Offer).where(Offer.request_id == req.id, Offer.physician_id == physician.id))
    can_answer = machine.open_to(req.state, req.expires_at, offer.status if offer else None, now=at)
    refused = offer is not None and offer.status == OfferStatus.REFUSED
    # No time preset: the physician picks one (a quick choice, or a time of their own on today's date).
    defaults = {"date": texts.local(at, tz).date().isoformat(), "time": "", "place": physician.address or ""}
    quick = [(minutes, f"Dans {label} ({texts.hhmm(quick_time(at, minutes), tz)})") for minutes, label in QUICK]
    deadline = current_deadline(req.state, req.exclusive_until, req.expires_at)
    distance = offer.distance_km if offer is not None else None
    shown = disclosure.show(physician.user, req, what="request", now=at, client=client_label(), distance_km=distance)
    mine = req.accepted_by_id == physician.id
    may_see = req.state in (State.ACCEPTED, State.NO_SHOW)  # the outcome to record, or a no-show to correct
    fate, needs_birth = physician_actions.synthesis_outlook(request=req, physician=physician) if mine else (None, False)
    ask_birth = may_see and needs_birth
    corrected_by = req.outcome_at + machine.OUTCOME_CORRECTION if req.outcome_at else None
    can_correct = mine and req.state in OUTCOMES and machine.outcome_correctable(req.outcome_at, now=at)
    return render_template(
        "pages/offer.html",
        req=shown,
        labels=LABELS,
        errors=errors or {},
        form={**defaults, **(form or {})},
        quick=quick,
        can_answer=can_answer,
        refused=refused,
        mine=mine,
        deadline=local_time(deadline, tz),
        deadline_iso=iso(deadline),
        now=iso(at),
        today=texts.local(at, tz).date().isoformat(),
        appointment=appointment_label(req.appointment_at, tz, at),
        appointment_iso=iso(req.appointment_at),
        outcome_open=req.appointment_at is not None and machine.outcome_open(req.appointment_at, now=at),
        phone=None if shown["anonymised"] else phone_link((shown["patient"] or {}).get("phone")),
        resumed=request.args.get(RESUME) == "1",
        ask_birth=ask_birth,
        can_correct=can_correct,
        correct_until=texts.appointment_label(corrected_by, tz, at),
        has_synthesis=req.synthesis_status is not None,
        synthesis_hint=SYNTHESIS_HINTS.get(fate or "", "") if req.treating_status == "declared" else NO_TREATING_HINT,
    ), status


@bp.route("/m/requests/<int:request_id>")
@role_page(Action.ACCEPT)
def offer(request_id: int) -> Any:
    """Show a request to a physician: anonymised if it is only offered to them."""
    return _request_page(request_id)


@bp.route("/m/requests/<int:request_id>/accepter", methods=["POST"])
@role_page(Action.ACCEPT)
def accept(request_id: int) -> Any:
    """Take the patient at the chosen date, time and place; the first acceptance wins."""
    physician, req = visible(request_id, Action.ACCEPT)
    at = now()
    form = {k: request.form.get(k, "") for k in ("date", "time", "place", "in", "teleconsultation_url")}
    data: dict[str, Any] = {"place": form["place"]} if form["place"].strip() else {}
    if form["teleconsultation_url"].strip():
        data["teleconsultation_url"] = form["teleconsultation_url"].strip()
    quick_minutes = {str(minutes): minutes for minutes, _ in QUICK}.get(form["in"])
    if quick_minutes is not None:
        when, problem = quick_time(at, quick_minutes), None
    elif not form["time"].strip():
        when, problem = None, "Choisissez l'heure du rendez-vous : dans 30 min, 1 h, 2 h, ou une autre heure."
    else:
        when, problem = parse_appointment(form["date"], form["time"], at, req.community.timezone)
    if when is not None:
        data["appointment_at"] = when.isoformat()
    args, errors = validate(AcceptIn(), data)
    if problem is not None:
        errors = {**errors, "appointment_at": [problem]}
    if args is None or errors:
        return _request_page(request_id, errors=errors, form=form, status=422)
    try:
        physician_actions.accept_offer(
            user=physician.user,
            request_id=request_id,
            appointment_at=args["appointment_at"],
            place=args.get("place"),
            now=at,
            client=client_label(),
            teleconsultation_url=args.get("teleconsultation_url"),
        )
    except Problem as exc:  # the machine's refusal (Rejected), or a teleconsultation link refused
        if exc.errors:  # a field to correct (the appointment's time): the form again, with what was typed
            return _request_page(request_id, errors=exc.errors, form=form, status=exc.code or 422)
        flash(exc.detail or "", "error")
        return redirect(url_for("pages.offer", request_id=request_id))
    if req.modality == "teleconsultation":
        flash("Vous avez pris ce patient\u00a0: il reçoit un SMS avec l'heure et le lien de la téléconsultation.", "ok")
    else:
        flash("Vous avez pris ce patient : il reçoit un SMS avec la date et l'heure du rendez-vous.", "ok")
    return redirect(url_for("pages.offer", request_id=request_id))


@bp.route("/m/requests/<int:request_id>/refuser", methods=["POST"])
@role_page(Action.ACCEPT)
def refuse(request_id: int) -> Any:
    """Decline the request; the treating GP's refusal opens it to the community at once."""
    physician, req = visible(request_id, Action.REFUSE)
    args, errors = validate(RefuseIn(), {"reason": request.form["reason"]} if request.form.get("reason", "").strip() else {})
    if args is None:
        return _request_page(request_id, errors=errors, status=422)
    try:
        physician_actions.refuse_offer(
            user=physician.user, request_id=request_id, reason=args.get("reason"), now=now(), client=client_label()
        )
    except Rejected as exc:
        flash(exc.detail or "", "error")
        return redirect(url_for("pages.offer", request_id=request_id))
    motive = texts.request_title(profession=req.profession, motive=req.motive, acts=req.acts)
    flash(f"Refus enregistré : la demande n° {req.id} ({motive}) a quitté votre liste. Merci d'avoir répondu.", "ok")
    if limited_to() is not None:  # opened from the SMS: the list needs the password, the request's page says it all
        return redirect(url_for("pages.offer", request_id=request_id))
    return redirect(url_for("pages.offers", refusee=req.id))


@bp.route("/m/requests/<int:request_id>/issue", methods=["POST"])
@role_page(Action.ACCEPT)
def outcome(request_id: int) -> Any:
    """Record whether the patient came, with the synthesis for their treating GP (and the birth date it needs)."""
    physician, req = visible(request_id)
    data = {k: request.form[k].strip() for k in ("outcome", "synthesis", "patient_birth_date") if request.form.get(k, "").strip()}
    args, errors = validate(OutcomeIn(), data)
    disclosure.require(physician.user, Action.OUTCOME, req)
    if args is None:
        return _request_page(request_id, errors=errors, form=data, status=422)
    corrected = req.state in OUTCOMES  # a correction of a mis-tapped outcome, read before the use case writes
    written = args["outcome"] == State.SEEN and req.synthesis_status is None
    try:
        shown = physician_actions.record_outcome(
            user=physician.user,
            request_id=request_id,
            outcome=args["outcome"],
            synthesis=args.get("synthesis"),
            birth_date=args.get("patient_birth_date"),
            now=now(),
            client=client_label(),
        )
    except Problem as exc:
        if exc.errors:  # a field to fill in or correct (the birth date, the appointment not come): the form again
            return _request_page(request_id, errors=exc.errors, form=data, status=exc.code or 422)
        flash(exc.detail or "", "error")
    else:
        said = "Issue corrigée." if corrected else "Issue enregistrée."
        # What became of the synthesis, as it is: sent only when the treating GP has a secure address.
        fate = SYNTHESIS_FLASH.get(shown["synthesis_status"] or "", "") if written else ""
        if written and shown["synthesis_status"] == "not_sendable" and shown["treating_physician"]["status"] != "declared":
            fate = " Le patient n'a pas déclaré de médecin traitant : la synthèse reste dans Mes patients."
        flash(said + fate, "ok")
    return redirect(url_for("pages.offer", request_id=request_id))


@bp.route("/m/requests/<int:request_id>/desister", methods=["POST"])
@role_page(Action.ACCEPT)
def release(request_id: int) -> Any:
    """Hand the patient back before the appointment: the request is offered to the community again."""
    physician, req = visible(request_id, Action.RELEASE)
    args, errors = validate(ReleaseIn(), {"reason": request.form["reason"]} if request.form.get("reason", "").strip() else {})
    if args is None:
        errors = {"release_reason": ["Indiquez pourquoi vous ne pouvez plus recevoir ce patient."]}
        return _request_page(request_id, errors=errors, status=422)
    try:
        physician_actions.release_patient(
            user=physician.user, request_id=request_id, reason=args["reason"], now=now(), client=client_label()
        )
    except Rejected as exc:
        flash(exc.detail or "", "error")
        return redirect(url_for("pages.offer", request_id=request_id))
    flash(
        f"Vous vous êtes désisté de la demande n° {req.id} : elle est à nouveau proposée aux médecins, "
        "le patient et l'opérateur sont prévenus.",
        "ok",
    )
    return redirect(url_for("pages.offers"))


@bp.route("/m/disponibilite", methods=["POST"])
@role_page(Action.ACCEPT)
def availability() -> Any:
    """Switch whether I take requests."""
    physician = current_physician()
    available = request.form.get("available") == "1"
    communities.set_availability(physician=physician, available=available, until=None)
    flash("Vous recevez les demandes." if available else "Vous ne recevez plus de demandes.", "ok")
    return redirect(url_for("pages.offers"))
