"""Endpoints of operators and staff on requests: open, list, read, cancel, events."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import jsonify
from flask import request as http
from flask_smorest import Blueprint
from sqlalchemy import bindparam, select

from dispatch.audit.service import record_access, record_accesses
from dispatch.auth.models import User
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.escalation import service
from dispatch.escalation.models import Event, Request
from dispatch.requests import opening
from dispatch.requests.access import staff_request, view_level
from dispatch.requests.schemas import PRESENTED_COLUMNS, EventOut, RequestIn, RequestOut, RequestQuery, present, request_json
from dispatch.schemas import PageArgs, text, with_next_link
from dispatch.web import answers_from_memory, client_label, community_ids, current_user, member_role, now, runtime

bp = Blueprint("requests", __name__, url_prefix="/api/v1", description="Demandes de soins non programmés")


class CancelIn(ma.Schema):
    reason = text(500, required=True)


def actor(user: User) -> service.Actor:
    """Return the audit-trail actor for the current HTTP call."""
    return service.Actor(user_id=user.id, role=user.role, client=client_label())


def rejected(exc: service.Rejected) -> Problem:
    """Translate a machine refusal into its HTTP problem."""
    details = {
        "closed": (409, "La demande n'est plus ouverte."),
        "already_accepted": (409, "La demande a déjà été acceptée par un autre médecin."),
        "not_eligible": (403, "Cette demande ne vous est pas proposée en ce moment."),
        "not_accepted": (409, "La demande n'a pas été acceptée."),
        "already_recorded": (409, "L'issue de la consultation est déjà enregistrée."),
    }
    status, detail = details.get(exc.code, (409, "Conflit."))
    return Problem(status, exc.code, detail)


@bp.route("/requests", methods=["POST"])
@bp.arguments(RequestIn)
@bp.response(201, RequestOut)
@bp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 200},
                     "required": False}])
@answers_from_memory
def open_request(args: dict[str, Any]) -> Any:
    """Open a request: the treating GP alone for the first window, then the whole community."""
    user = current_user()
    key = (http.headers.get("Idempotency-Key") or "").strip() or None
    if key is not None and len(key) > 200:
        raise Problem(422, "invalid", "Certains champs sont invalides.",
                      errors={"headers.Idempotency-Key": ["200 caractères au plus."]})
    community = db.session.get(Community, args["community_id"])
    if community is None or (user.role != "admin" and member_role(user, community.id) is None):
        raise Problem(422, "invalid", "Communauté inconnue.", errors={"community_id": ["Communauté inconnue."]})
    if member_role(user, community.id) not in ("operator", "coordinator"):
        raise Problem(403, "forbidden", "Seuls les opérateurs et coordinateurs ouvrent des demandes.")
    existing = opening.find_existing(opened_by_id=user.id, key=key)
    if existing is not None:
        return jsonify(request_json(present(existing, full=True, now=now()))), 201
    at = now()
    opened = opening.open_from_input(community=community, args=args, opened_by=user, now=at, actor=actor(user),
                                     idempotency_key=key)
    runtime().wake()
    return jsonify(request_json(present(opened, full=True, now=at))), 201


@bp.route("/requests", methods=["GET"])
@bp.arguments(RequestQuery, location="query")
@bp.response(200, RequestOut(many=True))
def list_requests(args: dict[str, Any]) -> Any:
    """List requests of the communities the user works for, newest first."""
    user = current_user()
    if user.role not in ("admin", "operator", "coordinator"):
        raise Problem(403, "forbidden", "Réservé aux opérateurs, coordinateurs et administrateurs.")
    query = select(Request).order_by(Request.id.desc()).limit(args["limit"])
    if user.role != "admin":
        query = query.where(Request.community_id.in_(community_ids(user, "operator", "coordinator")))
    if "community_id" in args:
        query = query.where(Request.community_id == args["community_id"])
    if "state" in args:
        query = query.where(Request.state == args["state"])
    if "before" in args:
        query = query.where(Request.id < args["before"])
    at = now()
    items = [present(r, full=True, now=at) for r in db.session.scalars(query).unique()]
    response = with_next_link(jsonify([request_json(item) for item in items]), items, args["limit"])
    record_accesses([item["id"] for item in items], user=user, what="list", client=client_label(), now=at)
    return response


_PRESENTED = (select(*PRESENTED_COLUMNS, Community.timezone).join(Community, Community.id == Request.community_id)
              .where(Request.id == bindparam("request_id")))


@bp.route("/requests/<int:request_id>", methods=["GET"])
@bp.response(200, RequestOut)
def get_request(request_id: int) -> Any:
    """Read a request: in full for those who need the patient's identity, anonymised for other offered physicians."""
    user = current_user()
    # The busiest read of all (consoles refresh it): a row of what is shown, no request loaded.
    request = db.session.execute(_PRESENTED, {"request_id": request_id}).first()
    level = view_level(user, request) if request is not None else None
    if request is None or level is None:
        raise Problem(404, "not_found", "Demande introuvable.")
    shown = present(request, full=level == "full", now=now(), zone=request.timezone)
    if level == "full":
        record_access(request_id, user=user, what="request", client=client_label(), now=now())
    return jsonify(request_json(shown))


@bp.route("/requests/<int:request_id>/cancel", methods=["POST"])
@bp.arguments(CancelIn)
@bp.response(200, RequestOut)
@answers_from_memory
def cancel(args: dict[str, Any], request_id: int) -> Any:
    """Cancel an open request; every phone it was offered to is cleared."""
    user = current_user()
    request = staff_request(user, request_id)
    if user.role == "admin" and member_role(user, request.community_id) is None:
        # CONTRACT.md: cancelling is the call centre's and the CPTS staff's decision, not the installation's.
        raise Problem(403, "forbidden", "Seuls les opérateurs et coordinateurs de la communauté annulent une demande.")
    try:
        request = service.cancel(request=request, reason=args["reason"], now=now(), actor=actor(user))
    except service.Rejected as exc:
        raise rejected(exc) from None
    runtime().wake()
    shown = present(request, full=True, now=now())
    record_access(request_id, user=user, what="cancel", client=client_label(), now=now())
    return jsonify(request_json(shown))


@bp.route("/requests/<int:request_id>/events", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, EventOut(many=True))
def events(args: dict[str, Any], request_id: int) -> Any:
    """List a request's audit trail, newest first."""
    user = current_user()
    staff_request(user, request_id)
    query = (select(Event, User).outerjoin(User, User.id == Event.actor_id).where(Event.request_id == request_id)
             .order_by(Event.id.desc()).limit(args["limit"]))
    if "before" in args:
        query = query.where(Event.id < args["before"])
    items = [{"id": event.id, "at": event.at, "type": event.type, "data": event.data,
              "actor": None if actor_user is None else {"id": actor_user.id, "name": actor_user.name,
                                                        "role": event.actor_role}}
             for event, actor_user in db.session.execute(query)]
    return with_next_link(jsonify(EventOut(many=True).dump(items)), items, args["limit"])


