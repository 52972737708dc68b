"""The coordinator's "Droits des patients" pages: find a patient's requests, hand over their PDF, erase their identity.

Each action is the API's use case (`dispatch.privacy.subjects`, as `POST /communities/{id}/subject-access`, `….pdf` and
`/subject-erasure`), recorded in the access trail with the reference the coordinator gives. The patient's identity is
posted, never put in an address (it would land in the logs and the browser's history).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from dispatch.communities.models import Community
from dispatch.errors import Problem
from dispatch.pages import bp
from dispatch.pages.common import LABELS, local_time, pick_community, user_communities, validate
from dispatch.pages.guard import role_page, signed_in
from dispatch.policy import Action
from dispatch.privacy import subjects
from dispatch.privacy.schemas import SubjectIn
from dispatch.web import client_label, now

FIELDS = ("last_name", "first_name", "birth_date", "reference")
NB = "\u00a0"


def _page(
    community: Community,
    *,
    values: dict[str, str],
    errors: dict[str, list[str]] | None = None,
    found: list[dict[str, Any]] | None = None,
    refusal: str | None = None,
    status: int = 200,
) -> Any:
    user = signed_in()
    return render_template(
        "pages/rights.html",
        community=community,
        values=values,
        errors=errors or {},
        found=found,
        refusal=refusal,
        born=_born(values.get("birth_date", "")),
        labels=LABELS,
        communities=user_communities(user, Action.SUBJECT_REQUESTS),
    ), status


def _born(value: str) -> str:
    """Return a typed birth date as the French read it (02/04/1988), or as typed if it is not one."""
    try:
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    except ValueError:
        return value


def _posted(community: Community) -> tuple[dict[str, str], subjects.Subject | None, str, dict[str, list[str]]]:
    """Return the form as typed, the patient it names, its reference, and the field errors (the API's schema)."""
    values = {field: request.form.get(field, "").strip() for field in FIELDS}
    args, errors = validate(SubjectIn(), {key: value for key, value in values.items() if value})
    if args is None:
        return values, None, "", errors
    subject = subjects.Subject(last_name=args["last_name"], first_name=args["first_name"], birth_date=args["birth_date"])
    return values, subject, args["reference"], {}


def _rows(shown: list[dict[str, Any]], community: Community) -> list[dict[str, Any]]:
    """Return the requests handed over as the page lists them, in the community's local time."""
    tz = community.timezone
    rows = []
    for item in shown:
        accepted = item.get("accepted_by") or {}
        rows.append(
            {
                "id": item["id"],
                "opened": local_time(item.get("opened_at"), tz, "%d/%m/%Y à %H:%M"),
                "motive": LABELS["motives"].get(item["motive"], item["motive"]),
                "source": LABELS["sources"].get(item["source"], item["source"]),
                "state": item["state"],
                "description": item.get("description") or "",
                "physician": accepted.get("name") or "",
                "appointment": local_time(item.get("appointment_at"), tz, "%d/%m/%Y à %H:%M"),
                "outcome": LABELS["outcomes"].get(item.get("outcome") or "", ""),
                "synthesis": bool(item.get("synthesis_text")),
                "events": len(item.get("events") or []),
            }
        )
    return rows


@bp.route("/pilotage/droits")
@role_page(Action.SUBJECT_REQUESTS)
def rights() -> Any:
    """Show the form to find a patient's requests, from their letter (names, birth date, reference)."""
    return _page(pick_community(signed_in(), Action.SUBJECT_REQUESTS), values={})


@bp.route("/pilotage/droits", methods=["POST"])
@role_page(Action.SUBJECT_REQUESTS)
def rights_search() -> Any:
    """List the patient's requests (right of access), each read recorded in the trail with the reference."""
    user = signed_in()
    community = pick_community(user, Action.SUBJECT_REQUESTS)
    values, subject, reference, errors = _posted(community)
    if subject is None:
        return _page(community, values=values, errors=errors, status=422)
    shown = subjects.subject_access(
        user=user, community_id=community.id, subject=subject, reference=reference, now=now(), client=client_label()
    )
    return _page(community, values=values, found=_rows(shown, community))


@bp.route("/pilotage/droits/document", methods=["POST"])
@role_page(Action.SUBJECT_REQUESTS)
def rights_document() -> Any:
    """Download the patient's data as the PDF to hand over (the API's subject-access.pdf)."""
    user = signed_in()
    community = pick_community(user, Action.SUBJECT_REQUESTS)
    values, subject, reference, errors = _posted(community)
    if subject is None:
        return _page(community, values=values, errors=errors, status=422)
    name, body = subjects.subject_access_document(
        user=user, community_id=community.id, subject=subject, reference=reference, now=now(), client=client_label()
    )
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.route("/pilotage/droits/effacement", methods=["POST"])
@role_page(Action.SUBJECT_REQUESTS)
def rights_erasure() -> Any:
    """Ask to confirm the erasure, naming how many requests it reaches; once confirmed, erase (the API's use case)."""
    user = signed_in()
    community = pick_community(user, Action.SUBJECT_REQUESTS)
    values, subject, reference, errors = _posted(community)
    if subject is None:
        return _page(community, values=values, errors=errors, status=422)
    if request.form.get("confirm") != "oui":
        preview = subjects.erasure_preview(user=user, community_id=community.id, subject=subject, now=now())
        refusal = subjects.OPEN_REQUEST[1] if preview.running else None
        return render_template("pages/rights_erase.html", community=community, values=values, preview=preview, refusal=refusal), (
            409 if refusal else 200
        )
    try:
        erased = subjects.subject_erasure(
            user=user, community_id=community.id, subject=subject, reference=reference, now=now(), client=client_label()
        )
    except Problem as exc:
        if exc.code != 409:
            raise
        return _page(community, values=values, refusal=exc.detail, status=409)
    who = f"{values['first_name']} {values['last_name']}"
    if erased:
        flash(
            f"Identité de {who} effacée de {erased} demande{'s' if erased > 1 else ''} (référence {reference}){NB}: "
            "les chiffres du tableau de bord ne changent pas.",
            "ok",
        )
    else:
        flash(f"Aucune demande de {who} à effacer (référence {reference}).", "ok")
    return _back(community)


def _back(community: Community) -> BaseResponse:
    return redirect(url_for("pages.rights", community=community.id))
