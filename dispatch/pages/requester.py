"""The requester's pages, made for a phone: open a request for the patient in front of them, follow their own, cancel
one while it is open.

The same use cases as the API (`opening.open_request`, `listing.list_requests`, `operator_actions.cancel_request`): the
policy shows a requester their own requests only, each full view written in the access trail.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from dispatch import texts
from dispatch.errors import Problem
from dispatch.pages import bp
from dispatch.pages.common import LABELS, appointment_label, nested_form, pick_community, validate
from dispatch.pages.guard import role_page, signed_in
from dispatch.policy import Action
from dispatch.requests import disclosure, listing, opening, operator_actions
from dispatch.requests.engine import Rejected, load_request
from dispatch.requests.models import REQUESTER_SOURCES
from dispatch.requests.schemas import CancelIn, RequestIn
from dispatch.requests.states import OPEN_STATES
from dispatch.web import client_label, now

SOURCE_CHOICES = {source: texts.SOURCE_LABELS[source] for source in REQUESTER_SOURCES}
OBSERVATIONS = ("systolic", "diastolic", "heart_rate", "temperature_c", "spo2", "note")


@bp.route("/demandes")
@role_page(Action.FOLLOW)
def my_requests() -> Any:
    """List the requests the requester opened: their state, who accepted, the appointment, the teleconsultation link."""
    return _list()


@bp.route("/demandes/<int:request_id>/annuler", methods=["POST"])
@role_page(Action.FOLLOW)
def cancel_own_request(request_id: int) -> Any:
    """Cancel the requester's own open request with a reason, through the operator's use case."""
    user = signed_in(Action.FOLLOW)
    disclosure.require(user, Action.CANCEL, load_request(request_id))  # another's request: 404, before the form is read
    args, errors = validate(CancelIn(), {k: v for k, v in request.form.items() if k == "reason" and v.strip()})
    if args is None:
        return _list(invalid=request_id, errors=errors, status=422)
    try:
        operator_actions.cancel_request(user=user, request_id=request_id, reason=args["reason"], now=now(), client=client_label())
    except Rejected as exc:  # no longer open (accepted, expired): the machine says why
        flash(exc.detail or "", "error")
    else:
        flash("Demande annulée.", "ok")
    return redirect(url_for("pages.my_requests", _anchor=f"request-{request_id}"))


@bp.route("/demandes/nouvelle")
@role_page(Action.REQUEST)
def new_request() -> Any:
    """Show the form that opens a request for the patient in front of the requester."""
    user = signed_in(Action.REQUEST)
    community = pick_community(user, Action.REQUEST)
    return _form(community_id=community.id, values={"modality": "in_person", "treating_physician": {"status": "unknown"}})


@bp.route("/demandes/nouvelle", methods=["POST"])
@role_page(Action.REQUEST)
def open_own_request() -> Any:
    """Open the request through the same use case as the API; the form comes back with its errors."""
    user = signed_in(Action.REQUEST)
    community = pick_community(user, Action.REQUEST)
    data = nested_form()
    key = str(data.get("idempotency_key", ""))[:200] or None
    data.pop("community", None)
    form_values = dict(data)
    data.pop("idempotency_key", None)
    data["community_id"] = community.id
    data["consent"] = request.form.get("consent") == "1"
    observations = data.get("observations")
    if isinstance(observations, dict) and isinstance(observations.get("temperature_c"), str):
        observations["temperature_c"] = observations["temperature_c"].replace(",", ".")  # 38,5 as French write it
    treating = data.setdefault("treating_physician", {"status": "unknown"})
    if treating.get("status") != "declared":
        data["treating_physician"] = {"status": treating.get("status", "unknown")}
    args, errors = validate(RequestIn(), data)
    if args is None:
        return _form(community_id=community.id, values=form_values, errors=errors, status=422)
    try:
        opened = opening.open_request(
            user=user, community_id=community.id, args=args, idempotency_key=key, now=now(), client=client_label()
        )
    except Problem as exc:  # no consent, a source not theirs: said next to its field
        return _form(community_id=community.id, values=form_values, errors=exc.errors or {"_body": [exc.detail or ""]}, status=422)
    flash(f"Demande n° {opened.id} envoyée\u00a0: vous serez prévenu par SMS dès qu'un médecin l'accepte.", "ok")
    return redirect(url_for("pages.my_requests"))


def _list(*, invalid: int | None = None, errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    user = signed_in(Action.FOLLOW)
    at = now()
    community = pick_community(user, Action.FOLLOW)
    items = listing.list_requests(user=user, now=at, client=client_label(), limit=50)
    for item in items:
        item["appointment"] = appointment_label(item["appointment_at"], community.timezone, at) if item["appointment_at"] else ""
        item["cancellable"] = item["state"] in OPEN_STATES  # the policy lets the owner cancel; the state decides when
    return render_template("pages/requester_list.html", items=items, labels=LABELS, invalid=invalid, errors=errors or {}), status


def _form(*, community_id: int, values: dict[str, Any], errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    return (
        render_template(
            "pages/requester_form.html",
            community_id=community_id,
            values=values,
            errors=errors or {},
            sources=SOURCE_CHOICES,
            motives=texts.MOTIVE_LABELS,
            labels=LABELS,
            key=values.get("idempotency_key") or secrets.token_urlsafe(16),  # one request per form, even sent twice
        ),
        status,
    )
