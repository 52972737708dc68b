"""Endpoint of the access trail: a request's coordinators see who read its patient's identity."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import fields

from dispatch.audit import service
from dispatch.errors import Problem
from dispatch.requests.access import load_request, view_level
from dispatch.schemas import PageArgs, UTCDateTime, with_next_link
from dispatch.web import current_user, member_role

bp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Traçabilité des accès aux données des patients")


class AccessUserOut(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)


class AccessOut(ma.Schema):
    id = fields.Integer(required=True)
    at = UTCDateTime(required=True)
    what = fields.String(required=True, metadata={"enum": list(service.KINDS)})
    client = fields.String(allow_none=True)
    user = fields.Nested(AccessUserOut, required=True)


@bp.route("/requests/<int:request_id>/access", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, AccessOut(many=True))
def access_trail(args: dict[str, Any], request_id: int) -> Any:
    """List who was shown the patient's identity of a request, when and from which client, newest first."""
    user = current_user()
    request = load_request(request_id)
    if view_level(user, request) is None:
        raise Problem(404, "not_found", "Demande introuvable.")
    if user.role != "admin" and member_role(user, request.community_id) != "coordinator":
        raise Problem(403, "forbidden", "Réservé aux coordinateurs de la communauté et aux administrateurs.")
    items = service.list_accesses(request_id=request_id, limit=args["limit"], before=args.get("before"))
    return with_next_link(jsonify(AccessOut(many=True).dump(items)), items, args["limit"])
