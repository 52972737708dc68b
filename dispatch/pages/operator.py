"""The operator console: triage and open a request (seeing first whether the patient called lately), today's list.

A request's own page (read, cancel, call back, relaunch) is `request_page`; the list's digest, polled every second,
is `live`'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import Select, and_, or_, select

from dispatch import policy, texts
from dispatch.auth.models import Membership, User
from dispatch.calls import service as calls
from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.pages import bp, history
from dispatch.pages.common import (
    LABELS,
    STATE_LABELS,
    iso,
    local_time,
    nested_form,
    phone_link,
    pick_community,
    user_communities,
    validate,
)
from dispatch.pages.guard import role_page, signed_in
from dispatch.pages.history import CALLBACK_LABELS, lower_first
from dispatch.phones import normalize_phone
from dispatch.policy import Action
from dispatch.professions import PHYSICIAN
from dispatch.requests import disclosure, opening, returning
from dispatch.requests.machine import OPEN_STATES, current_deadline
from dispatch.requests.models import MOTIVES, SOURCES, Request
from dispatch.requests.schemas import RequestIn
from dispatch.requests.states import State
from dispatch.web import client_label, now

TRIAGE = {
    "vital": "Urgence vitale\u00a0: transférez l'appel au 15 (SAMU). Aucune demande n'est créée.",
    "refused": "Renouvellement d'ordonnance ou certificat\u00a0: la demande est refusée selon le protocole. "
    "Aucune demande n'est créée.",
    "other": "Patient orienté ailleurs (pharmacie, consultation programmée...). Aucune demande n'est créée.",
}
# What a triage without a request records as the call's outcome (POST /calls).
TRIAGE_OUTCOMES = {"vital": "emergency_15", "refused": "renewal_refused", "other": "other_orientation"}


# How far back an expired request whose patient was never called back stays in the console's list and banner.
CALLBACKS_DUE = timedelta(days=7)


def today_query(community: Community, at: datetime) -> Select[Any]:
    """Return the query of the community's requests opened today (local time), those still open, and those of the last
    days that expired with their call-back still due, newest first."""
    local = texts.local(at, community.timezone)
    midnight = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)
    due = and_(Request.state == State.EXPIRED, Request.callback_result.is_(None), Request.opened_at >= midnight - CALLBACKS_DUE)
    return (
        select(Request)
        .where(Request.community_id == community.id, or_(Request.opened_at >= midnight, Request.state.in_(OPEN_STATES), due))
        .order_by(Request.id.desc())
        .limit(200)
    )


def today_requests(community: Community, at: datetime) -> list[Request]:
    """Return the community's requests opened today (local time) and those still open, newest first."""
    return list(db.session.scalars(today_query(community, at)))


# What the list shows that can change: a change of any of these makes every console fetch the list again.
SIGNED_COLUMNS = (
    Request.id,
    Request.state,
    Request.exclusive_until,
    Request.expires_at,
    Request.accepted_by_id,
    Request.appointment_at,
    Request.callback_result,
    Request.outcome,
)


def list_signature(rows: Iterable[Any]) -> str:
    """Return a short digest of the list: it changes when a request comes, changes state or deadline, or is called back."""
    parts = [",".join(str(getattr(r, c.key)) for c in SIGNED_COLUMNS) for r in rows]
    return hashlib.sha256(";".join(parts).encode()).hexdigest()[:16]


def row(shown: dict[str, Any], tz: str) -> dict[str, Any]:
    """Return what the live list shows of a request, from the view the policy gave of it."""
    deadline = current_deadline(shown["state"], shown["exclusive_until"], shown["expires_at"])
    patient, accepted = shown["patient"] or {}, shown["accepted_by"]
    return {
        "id": shown["id"],
        "state": shown["state"],
        "state_label": STATE_LABELS.get(shown["state"], shown["state"]),
        "motive": texts.MOTIVE_LABELS.get(shown["motive"], shown["motive"]),
        "patient": f"{patient.get('first_name', '')} {patient.get('last_name', '').upper()}".strip(),
        "phone": (phone_link(patient.get("phone")) or {}).get("text", ""),
        "phone_href": (phone_link(patient.get("phone")) or {}).get("href", ""),
        "opened": local_time(shown["opened_at"], tz),
        "deadline": iso(deadline),
        "deadline_label": local_time(deadline, tz),
        "accepted_by": accepted["name"] if accepted else "",
        "appointment": local_time(shown["appointment_at"], tz, "le %d/%m à %H:%M"),
        "url": url_for("pages.console_request", request_id=shown["id"]),
        "called_back": shown.get("callback") is not None,  # every console drops the expiry banner once recorded
        "callback_label": lower_first(CALLBACK_LABELS.get((shown.get("callback") or {}).get("result", ""), "")),
        "relaunch_of": shown.get("relaunch_of"),
        "callback_url": url_for("pages.console_callback", request_id=shown["id"]),
        "relaunch_url": url_for("pages.console_relaunch", request_id=shown["id"]),
    }


def live_rows(user: User, community: Community, at: datetime) -> tuple[list[dict[str, Any]], str]:
    """Return today's requests as the list shows them (each view the policy's, recorded when full), and their digest."""
    requests = today_requests(community, at)
    shown = disclosure.show_many(user, requests, what="list", now=at, client=client_label())
    return [row(item, community.timezone) for item in shown], list_signature(requests)


# The opening form's fields (pages/console.html): an error under any other name is said above the form, never dropped.
FORM_FIELDS = frozenset(
    {"triage", "source", "motive", "description", "community_id", "treating_physician.status"}
    | {f"patient.{name}" for name in ("first_name", "last_name", "birth_date", "sex", "phone", "address", "postcode", "city")}
    | {f"treating_physician.{name}" for name in ("rpps", "name", "mssante")}
)


def _placed(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Return the API's errors keyed by the form's fields: a patient left blank is both of its names."""
    placed = dict(errors)
    if "patient" in placed:
        placed.pop("patient")
        placed.setdefault("patient.first_name", ["Indiquez le prénom du patient."])
        placed.setdefault("patient.last_name", ["Indiquez le nom du patient."])
    return placed


def _risks(args: dict[str, Any]) -> list[str]:
    """Return what a request opened from these fields would miss, for the operator to confirm it on purpose."""
    risks = []
    if args["treating_physician"]["status"] == "unknown":
        risks.append(
            "le médecin traitant est «\u00a0inconnu\u00a0»\u00a0: la demande part à tous les médecins, sans son heure réservée"
        )
    if not args["patient"].get("phone"):
        risks.append("aucun téléphone\u00a0: le patient ne recevra pas le SMS du rendez-vous")
    return risks


def _console(
    community: Community,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    triage: str | None = None,
    confirm: list[str] | None = None,
    status: int = 200,
) -> Any:
    user = signed_in(Action.LIST)
    at = now()
    rows, signature = live_rows(user, community, at)
    return render_template(
        "pages/console.html",
        community=community,
        rows=rows,
        signature=signature,
        can_call_back=policy.allows(user, Action.CALLBACK, community_id=community.id),
        can_look_up=policy.allows(user, Action.RETURNING, community_id=community.id),
        callback_results=CALLBACK_LABELS,
        now=iso(at),
        labels=LABELS,
        values=values or {"source": "cot", "treating_physician": {"status": "unknown"}},
        errors=errors or {},
        unplaced={name: messages for name, messages in (errors or {}).items() if name not in FORM_FIELDS},
        confirm=confirm or [],
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
    data.pop("confirmed", None)  # the operator's "Ouvrir quand même" (request.form says it)
    data["community_id"] = community.id
    treating = data.setdefault("treating_physician", {})
    if treating.get("status") != "declared":
        data["treating_physician"] = {k: v for k, v in treating.items() if k == "status"}
    data.pop("acts", None)
    acts = [act for act in request.form.getlist("acts") if act.strip()]
    if data.get("profession", PHYSICIAN) != PHYSICIAN:
        # Another profession: the form's treating GP is the patient's usual professional, and the acts say what is asked.
        data["usual_professional"] = data.pop("treating_physician")
        if acts:
            data["acts"] = acts
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
        errors["triage"] = ["Appliquez le protocole\u00a0: choisissez la nature de l'appel."]
    if not policy.allows(user, Action.OPEN, community_id=community.id):
        errors["community_id"] = ["Seuls les opérateurs et coordinateurs de la communauté ouvrent des demandes."]
    args, invalid = validate(RequestIn(), data)
    # The usual professional is typed in the treating GP's fields: its errors are shown there.
    invalid = {key.replace("usual_professional", "treating_physician", 1): value for key, value in invalid.items()}
    errors.update(_placed(invalid))
    if errors or args is None:
        return _console(community, values=data, errors=errors, triage=triage, status=422)
    risks = _risks(args)
    if risks and request.form.get("confirmed") != "1":
        # Opened like this, the request skips the treating GP's hour or the patient never gets the appointment's SMS:
        # the operator says so on purpose (the form comes back filled, with "Ouvrir quand même").
        return _console(community, values=data, triage=triage, confirm=risks)
    try:
        opened = opening.open_request(
            user=user, community_id=community.id, args=args, idempotency_key=key, now=now(), client=client_label()
        )
    except Problem as exc:  # the treating GP's address outside MSSanté: said next to its field
        return _console(community, values=data, errors=exc.errors or {"_body": [exc.detail or ""]}, triage=triage, status=422)
    flash(f"Demande n° {opened.id} ouverte.", "ok")
    for changed in opened.warnings:  # the operator is told when the address differs from the one the directory had
        if changed["code"] == "address_not_located":
            flash(history.unplaced_notice(profession=changed["profession"], state=opened.shown["state"]), "warn")
            continue
        flash(
            f"Attention\u00a0: l'adresse MSSanté du médecin traitant diffère de celle connue ({changed['before']})\u202f; "
            f"la nouvelle ({changed['after']}) est retenue.",
            "warn",
        )
    return redirect(url_for("pages.console_request", request_id=opened.id))


@bp.route("/console/live")
@role_page(Action.LIST)
def console_live() -> Any:
    """Answer today's requests as JSON, for the console's live list and countdowns."""
    user = signed_in()
    community = pick_community(user, Action.LIST)
    at = now()
    rows, signature = live_rows(user, community, at)
    return jsonify({"now": iso(at), "signature": signature, "requests": rows})


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
            Physician.profession == PHYSICIAN,  # the treating GP: a physician, never another professional
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


MATCHED = {"phone": "même téléphone", "identity": "mêmes nom, prénom et date de naissance"}


def _typed_patient(body: dict[str, Any], region: str) -> returning.Patient:
    """Return the patient as typed so far: what cannot be read yet (a phone half typed, a partial date) is left out."""

    def text(name: str) -> str | None:
        value = body.get(name)
        return value.strip()[:100] or None if isinstance(value, str) else None

    phone, birth = None, None
    with contextlib.suppress(ValueError):  # not a number yet
        phone = normalize_phone(text("phone") or "", region)
    with contextlib.suppress(ValueError):  # not a whole date yet
        birth = date.fromisoformat(text("birth_date") or "")
    return returning.Patient(phone=phone, first_name=text("first_name"), last_name=text("last_name"), birth_date=birth)


def _fill(item: dict[str, Any]) -> dict[str, str]:
    """Return what the opening form takes again from a past request, by field name (the patient, the treating GP)."""
    patient, treating = item["patient"] or {}, item["treating_physician"]
    phone = phone_link(patient.get("phone"))
    values = {
        "patient.first_name": patient.get("first_name"),
        "patient.last_name": patient.get("last_name"),
        "patient.birth_date": patient["birth_date"].isoformat() if patient.get("birth_date") else None,
        "patient.sex": patient.get("sex"),
        "patient.phone": phone["text"] if phone else None,
        "patient.postcode": patient.get("postcode"),
        "patient.city": patient.get("city"),
        "treating_physician.status": treating.get("status"),
        "treating_physician.rpps": treating.get("rpps"),
        "treating_physician.name": treating.get("name"),
    }
    return {name: str(value) for name, value in values.items() if value}


@bp.route("/console/patients", methods=["POST"])
@role_page(Action.LIST)
def returning_patient() -> Any:
    """Answer the patient's requests of the last 30 days in the community, as the operator types them in.

    The identity comes in a JSON body, never in the address; each request shown is recorded in the access trail.
    """
    user = signed_in()
    community = pick_community(user, Action.LIST)
    policy.require(user, Action.RETURNING, community_id=community.id)
    body = request.get_json(silent=True)
    patient = _typed_patient(body if isinstance(body, dict) else {}, community.region)
    at, tz = now(), community.timezone
    shown = returning.shown(user, community_id=community.id, patient=patient, now=at, client=client_label())
    return jsonify(
        {
            "requests": [
                {
                    "id": item["id"],
                    "url": url_for("pages.console_request", request_id=item["id"]),
                    "opened": local_time(item["opened_at"], tz, "%d/%m/%Y à %H:%M"),
                    "motive": texts.MOTIVE_LABELS.get(item["motive"], item["motive"]),
                    "state": item["state"],
                    "state_label": STATE_LABELS.get(item["state"], item["state"]),
                    "outcome": texts.OUTCOME_LABELS.get(item["outcome"] or "", ""),
                    "accepted_by": (item["accepted_by"] or {}).get("name", ""),
                    "callback": lower_first(CALLBACK_LABELS.get((item["callback"] or {}).get("result", ""), "")),
                    "patient": f"{item['patient']['first_name']} {item['patient']['last_name'].upper()}",
                    "matched": " et ".join(MATCHED[m] for m in item["matched_by"]),
                    "fill": _fill(item),
                }
                for item in shown
            ]
        }
    )
