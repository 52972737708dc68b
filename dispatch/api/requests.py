"""Endpoints of operators and staff on requests: open, list, read, cancel, events, who read the patient's identity."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask import request as http
from flask_smorest import Blueprint
from sqlalchemy import select

from dispatch import policy
from dispatch.audit.service import list_accesses
from dispatch.auth.models import User
from dispatch.calls import service as calls
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.phones import normalize_phone
from dispatch.policy import Action
from dispatch.requests import disclosure, listing, opening, operator_actions, queries, returning
from dispatch.requests.engine import load_request
from dispatch.requests.models import Event
from dispatch.requests.schemas import (
    AccessOut,
    CallbackIn,
    CallIn,
    CallOut,
    CancelIn,
    EventOut,
    OpenedOut,
    RequestIn,
    RequestOut,
    RequestQuery,
    ReturningIn,
    ReturningOut,
    request_json,
)
from dispatch.schemas import PageArgs, with_next_link
from dispatch.web import answers_from_memory, autocommit_read, client_label, current_user, now

bp = Blueprint("requests", __name__, url_prefix="/api/v1", description="Demandes de soins non programmés")


@bp.route("/requests", methods=["POST"])
@bp.arguments(RequestIn)
@bp.response(201, OpenedOut)
@bp.alt_response(
    422,
    description="Champs invalides (invalid, avec errors : sas_regulator sans source sas ou l'inverse, observations hors "
    "bornes…), ou demandeur sans le consentement du patient (consent_required, errors.consent)",
)
@bp.doc(
    parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 200}, "required": False}],
    description="Ouvert par un opérateur ou un coordinateur, ou par un demandeur (infirmier, pharmacien, EHPAD) pour un "
    "patient devant lui : `consent` doit alors valoir true (sinon 422 `consent_required`) et `source` nurse, pharmacy "
    "ou ehpad ; il ne voit ensuite que ses propres demandes. `source` sas exige `sas_regulator` (422 sinon).",
)
@answers_from_memory
def open_request(args: dict[str, Any]) -> Any:
    """Open a request: the treating GP alone for the first window, then the whole community."""
    key = (http.headers.get("Idempotency-Key") or "").strip() or None
    if key is not None and len(key) > 200:
        raise Problem(
            422, "invalid", "Certains champs sont invalides.", errors={"headers.Idempotency-Key": ["200 caractères au plus."]}
        )
    opened = opening.open_request(
        user=current_user(), community_id=args["community_id"], args=args, idempotency_key=key, now=now(), client=client_label()
    )
    return jsonify(request_json(opened.shown) | {"warnings": list(opened.warnings)}), 201


@bp.route("/requests", methods=["GET"])
@bp.arguments(RequestQuery, location="query")
@bp.response(200, RequestOut(many=True))
def list_requests(args: dict[str, Any]) -> Any:
    """List requests of the communities the user works for (a requester: the ones they opened), newest first."""
    items = listing.list_requests(
        user=current_user(),
        now=now(),
        client=client_label(),
        community_id=args.get("community_id"),
        state=args.get("state"),
        limit=args["limit"],
        before=args.get("before"),
    )
    return with_next_link(jsonify([request_json(item) for item in items]), items, args["limit"])


@bp.route("/requests/<int:request_id>", methods=["GET"])
@bp.response(200, RequestOut)
@autocommit_read
def get_request(request_id: int) -> Any:
    """Read a request: in full for those who need the patient's identity, anonymised for other offered physicians."""
    user = current_user()
    request = db.session.execute(queries.PRESENTED, {"request_id": request_id}).first()
    if request is None:
        raise Problem(404, "not_found", "Demande introuvable.")
    return jsonify(
        request_json(disclosure.show(user, request, what="request", now=now(), client=client_label(), zone=request.timezone))
    )


@bp.route("/requests/<int:request_id>/cancel", methods=["POST"])
@bp.arguments(CancelIn)
@bp.response(200, RequestOut)
@bp.alt_response(409, description="Demande qui n'est plus ouverte (closed) : acceptée, expirée, annulée ou close")
@bp.doc(
    description="Annulée par un opérateur ou un coordinateur de la communauté, ou par le demandeur (infirmier, "
    "pharmacien, EHPAD) qui l'a ouverte, tant qu'elle est ouverte ; le motif `reason` est obligatoire (422 sinon). "
    "La demande d'un autre demandeur répond 404. Les médecins à qui elle était proposée la voient retirée de leur "
    "téléphone."
)
@answers_from_memory
def cancel(args: dict[str, Any], request_id: int) -> Any:
    """Cancel an open request (its operators, coordinators or the requester who opened it); every offer is withdrawn."""
    shown = operator_actions.cancel_request(
        user=current_user(), request_id=request_id, reason=args["reason"], now=now(), client=client_label()
    )
    return jsonify(request_json(shown))


@bp.route("/requests/<int:request_id>/events", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, EventOut(many=True))
def events(args: dict[str, Any], request_id: int) -> Any:
    """List a request's audit trail, newest first."""
    held = disclosure.require(current_user(), Action.EVENTS, load_request(request_id))
    query = (
        select(Event, User)
        .outerjoin(User, User.id == Event.actor_id)
        .where(Event.request_id == request_id)
        .order_by(Event.id.desc())
        .limit(args["limit"])
    )
    if "before" in args:
        query = query.where(Event.id < args["before"])
    items = [
        {
            "id": event.id,
            "at": event.at,
            "type": event.type,
            "data": disclosure.event_data(event.data, held),
            "actor": None if actor_user is None else {"id": actor_user.id, "name": actor_user.name, "role": event.actor_role},
        }
        for event, actor_user in db.session.execute(query)
    ]
    return with_next_link(jsonify(EventOut(many=True).dump(items)), items, args["limit"])


@bp.route("/requests/<int:request_id>/access", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, AccessOut(many=True))
def access_trail(args: dict[str, Any], request_id: int) -> Any:
    """List who was shown the patient's identity of a request, when and from which client, newest first."""
    disclosure.require(current_user(), Action.ACCESSES, load_request(request_id))
    items = list_accesses(request_id=request_id, limit=args["limit"], before=args.get("before"))
    return with_next_link(jsonify(AccessOut(many=True).dump(items)), items, args["limit"])


@bp.route("/calls", methods=["POST"])
@bp.arguments(CallIn)
@bp.response(201, CallOut)
@bp.alt_response(200, schema=CallOut, description="Appel déjà enregistré avec cette clé d'idempotence")
@bp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 200}, "required": False}])
def record_call(args: dict[str, Any]) -> Any:
    """Record a call triaged without a request (sent to the 15, renewal refused, other orientation)."""
    user = current_user()
    key = (http.headers.get("Idempotency-Key") or "").strip()[:200] or None
    community = db.session.get(Community, args["community_id"])
    policy.require(user, Action.CALL, community_id=community.id if community else None)
    call, created = calls.record_call(
        community_id=args["community_id"],
        operator_id=user.id,
        source=args["source"],
        outcome=args["outcome"],
        motive=args.get("motive"),
        now=now(),
        key=key,
    )
    return call, 201 if created else 200


@bp.route("/requests/<int:request_id>/callback", methods=["POST"])
@bp.arguments(CallbackIn)
@bp.response(200, RequestOut)
@bp.alt_response(409, description="Demande encore ouverte (still_open), non expirée (not_expired) ou déjà rappelée")
@answers_from_memory
def call_back(args: dict[str, Any], request_id: int) -> Any:
    """Record the result of calling back an expired request's patient: every operator's banner for it disappears."""
    shown = operator_actions.call_back(
        user=current_user(), request_id=request_id, result=args["result"], note=args.get("note"), now=now(), client=client_label()
    )
    return jsonify(request_json(shown))


@bp.route("/requests/<int:request_id>/relaunch", methods=["POST"])
@bp.response(201, RequestOut)
@bp.alt_response(
    409,
    description="Demande encore ouverte (still_open), ou déjà relancée (already_relaunched, avec `relaunched_as` : "
    "la demande qui la relance ; une relance au plus, même depuis deux consoles au même instant)",
)
@answers_from_memory
def relaunch(request_id: int) -> Any:
    """Open a new request for the same patient and motive, linked to this one, with fresh windows."""
    shown = operator_actions.relaunch(user=current_user(), request_id=request_id, now=now(), client=client_label())
    return jsonify(request_json(shown)), 201


@bp.route("/communities/<int:community_id>/patients/recent", methods=["POST"])
@bp.arguments(ReturningIn)
@bp.response(200, ReturningOut(many=True))
@bp.doc(
    description="Les demandes des 30 derniers jours dans la communauté pour ce patient (même téléphone, ou mêmes nom, "
    "prénom et date de naissance, sans tenir compte de la casse, des accents ni des espaces), les plus récentes "
    "d'abord : à consulter avant d'en ouvrir une nouvelle. Un POST, pour que l'identité du patient ne figure ni "
    "dans une adresse ni dans un journal d'accès ; chaque demande montrée est inscrite au registre des accès."
)
def recent_patient_requests(args: dict[str, Any], community_id: int) -> Any:
    """List the community's requests of the last 30 days for the patient being typed in (operators only)."""
    user = current_user()
    policy.require(user, Action.RETURNING, community_id=community_id)
    community = db.session.get(Community, community_id)
    assert community is not None  # an unknown community is hidden by the policy (404)
    phone = None
    if args.get("phone"):
        try:
            phone = normalize_phone(args["phone"], community.region)
        except ValueError:
            raise Problem(
                422, "invalid", "Certains champs sont invalides.", errors={"phone": ["Numéro de téléphone invalide."]}
            ) from None
    at = now()
    patient = returning.Patient(
        phone=phone, first_name=args.get("first_name"), last_name=args.get("last_name"), birth_date=args.get("birth_date")
    )
    shown = returning.shown(user, community_id=community.id, patient=patient, now=at, client=client_label())
    return jsonify(ReturningOut(many=True).dump(shown))
