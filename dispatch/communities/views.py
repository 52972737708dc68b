"""Endpoints of communities and their members, for admins and coordinators."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

import marshmallow as ma
from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from dispatch.auth.models import Membership, User
from dispatch.communities import service
from dispatch.communities.models import KINDS, Community, Physician
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.notify.phones import normalize_phone
from dispatch.schemas import PHONE_CHARS, PageArgs, UTCDateTime, text, with_next_link
from dispatch.web import current_user, member_role, now, runtime

bp = Blueprint("communities", __name__, url_prefix="/api/v1", description="Communautés (CPTS) et membres")

TIMEZONES = sorted(available_timezones())
WINDOW = validate.Range(min=0, max=7 * 24 * 3600)


def _windows_valid(data: dict[str, Any], community: Community | None = None) -> None:
    exclusive = data.get("exclusive_window_s", community.exclusive_window_s if community else 3600)
    response = data.get("response_window_s", community.response_window_s if community else 7200)
    if response < 60:
        raise ma.ValidationError({"response_window_s": ["La fenêtre de réponse doit durer au moins 60 secondes."]})
    if exclusive >= response:
        raise ma.ValidationError({"exclusive_window_s": [
            "La fenêtre réservée au médecin traitant doit être plus courte que la fenêtre de réponse."]})


class CommunityIn(ma.Schema):
    name = text(200, required=True)
    timezone = fields.String(load_default="Europe/Paris", validate=validate.OneOf(TIMEZONES))
    exclusive_window_s = fields.Integer(load_default=3600, validate=WINDOW, strict=True)
    response_window_s = fields.Integer(load_default=7200, validate=WINDOW, strict=True)

    @ma.validates_schema
    def windows(self, data: dict[str, Any], **kwargs: Any) -> None:
        _windows_valid(data)


class CommunityPatch(ma.Schema):
    name = text(200)
    exclusive_window_s = fields.Integer(validate=WINDOW, strict=True)
    response_window_s = fields.Integer(validate=WINDOW, strict=True)


class CommunityOut(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    timezone = fields.String()
    exclusive_window_s = fields.Integer()
    response_window_s = fields.Integer()
    created_at = UTCDateTime()


class MemberIn(ma.Schema):
    role = fields.String(required=True, validate=validate.OneOf(("coordinator", "operator", "physician")))
    login = text(120, required=True)
    password = fields.String(required=True, validate=validate.Length(min=10, max=256,
                             error="Le mot de passe doit compter entre 10 et 256 caractères."))
    name = text(200, required=True)
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(validate=[validate.Length(min=4, max=40), PHONE_CHARS])
    rpps = fields.String(validate=validate.Regexp(r"^[0-9]{11}$", error="Numéro RPPS invalide (11 chiffres)."))
    kind = fields.String(validate=validate.OneOf(KINDS))
    mssante = fields.Email(validate=validate.Length(max=254))
    address = text(300)

    @ma.validates_schema
    def physician_fields(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        if "phone" in data:
            try:
                data["phone"] = normalize_phone(data["phone"])
            except ValueError:
                errors["phone"] = ["Numéro de téléphone invalide."]
        if data.get("role") == "physician":
            if not data.get("rpps"):
                errors["rpps"] = ["Le numéro RPPS est obligatoire pour un médecin."]
            elif not service.rpps_valid(data["rpps"]):
                errors["rpps"] = ["Numéro RPPS invalide (11 chiffres, clé de Luhn)."]
            if not data.get("kind"):
                errors["kind"] = ["Le statut du médecin est obligatoire."]
        if errors:
            raise ma.ValidationError(errors)


class MemberCreated(ma.Schema):
    user_id = fields.Integer()
    role = fields.String()
    physician_id = fields.Integer()


class MemberOut(ma.Schema):
    user_id = fields.Integer()
    login = fields.String()
    name = fields.String()
    role = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    active = fields.Boolean()
    physician = fields.Dict(allow_none=True)


def visible_community(community_id: int, *, manage: bool = True) -> Community:
    """Return the community if the user is an admin or one of its coordinators; 403 or 404 otherwise."""
    user = current_user()
    community = db.session.get(Community, community_id)
    role = member_role(user, community_id) if community else None
    if community is None or (user.role != "admin" and role is None):
        raise Problem(404, "not_found", "Communauté introuvable.")
    if manage and user.role != "admin" and role != "coordinator":
        raise Problem(403, "forbidden", "Seuls les coordinateurs de la communauté peuvent faire cela.")
    return community


@bp.route("/communities", methods=["POST"])
@bp.arguments(CommunityIn)
@bp.response(201, CommunityOut)
@bp.alt_response(409, description="Nom déjà pris")
def create(args: dict[str, Any]) -> Community:
    """Create a community (admin)."""
    if current_user().role != "admin":
        raise Problem(403, "forbidden", "Seul un administrateur peut créer une communauté.")
    try:
        return service.create_community(now=now(), **args)
    except service.Conflict as exc:
        raise Problem(409, exc.code, exc.detail) from None


@bp.route("/communities", methods=["GET"])
@bp.response(200, CommunityOut(many=True))
def list_communities() -> list[Community]:
    """List the communities the user belongs to (all of them for an admin)."""
    user = current_user()
    query = select(Community).order_by(Community.id.desc())
    if user.role != "admin":
        query = query.where(Community.id.in_([m.community_id for m in user.memberships]))
    return list(db.session.scalars(query))


@bp.route("/communities/<int:community_id>", methods=["GET"])
@bp.response(200, CommunityOut)
def get(community_id: int) -> Community:
    """Describe a community."""
    return visible_community(community_id)


@bp.route("/communities/<int:community_id>", methods=["PATCH"])
@bp.arguments(CommunityPatch)
@bp.response(200, CommunityOut)
def patch(args: dict[str, Any], community_id: int) -> Community:
    """Change a community's name or windows; requests already open keep theirs."""
    community = visible_community(community_id)
    try:
        _windows_valid(args, community)
    except ma.ValidationError as exc:
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors=exc.messages) from None  # type: ignore[arg-type]
    try:
        return service.update_community(community=community, changes=args)
    except service.Conflict as exc:
        raise Problem(409, exc.code, exc.detail) from None


@bp.route("/communities/<int:community_id>/members", methods=["POST"])
@bp.arguments(MemberIn)
@bp.response(201, MemberCreated)
@bp.alt_response(409, description="Identifiant ou RPPS déjà pris")
def add_member(args: dict[str, Any], community_id: int) -> dict[str, Any]:
    """Create an account in the community."""
    community = visible_community(community_id)
    try:
        user, physician = service.add_member(community=community, now=now(), ph=runtime().hasher, **args)
    except service.Conflict as exc:
        raise Problem(409, exc.code, exc.detail) from None
    out: dict[str, Any] = {"user_id": user.id, "role": user.role}
    if physician is not None:
        out["physician_id"] = physician.id
    return out


@bp.route("/communities/<int:community_id>/members", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, MemberOut(many=True))
def members(args: dict[str, Any], community_id: int) -> Any:
    """List the community's members, newest first."""
    visible_community(community_id)
    query = (select(User, Membership.role, Physician).join(Membership, Membership.user_id == User.id)
             .outerjoin(Physician, Physician.user_id == User.id)
             .where(Membership.community_id == community_id).order_by(User.id.desc()).limit(args["limit"]))
    if "before" in args:
        query = query.where(User.id < args["before"])
    at = now()
    items = [{"id": user.id, "user_id": user.id, "login": user.login, "name": user.name, "role": role,
              "email": user.email, "phone": user.phone, "active": user.active,
              "physician": None if physician is None else {
                  "id": physician.id, "rpps": physician.rpps, "kind": physician.kind, "mssante": physician.mssante,
                  "address": physician.address, "available": physician.is_available(at)}}
             for user, role, physician in db.session.execute(query)]
    response = jsonify(MemberOut(many=True).dump(items))
    return with_next_link(response, items, args["limit"])


@bp.route("/communities/<int:community_id>/members/<int:user_id>", methods=["DELETE"])
@bp.response(204)
@bp.alt_response(409, description="Désactiver son propre compte (self_deactivation)")
def deactivate_member(community_id: int, user_id: int) -> None:
    """Deactivate a member: no more sign-in and no more offers; their tokens are revoked, their history kept."""
    community = visible_community(community_id)
    if user_id == current_user().id:
        raise Problem(409, "self_deactivation", "Vous ne pouvez pas désactiver votre propre compte.")
    try:
        service.deactivate_member(community=community, user_id=user_id, now=now())
    except LookupError:
        raise Problem(404, "not_found", "Membre introuvable dans cette communauté.") from None
