"""Endpoints of communities and their members, for admins and coordinators; and who the signed-in user is."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, jsonify
from flask_smorest import Blueprint
from sqlalchemy import select

from dispatch import policy
from dispatch.auth import accounts
from dispatch.auth.models import Membership, User
from dispatch.communities import service
from dispatch.communities.edge import managed_community
from dispatch.communities.models import Community, Physician
from dispatch.communities.schemas import (
    CommunityIn,
    CommunityOut,
    CommunityPatch,
    MemberCreated,
    MemberIn,
    MemberOut,
    MeOut,
    windows_valid,
)
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.policy import Action
from dispatch.schemas import PageArgs, Schema, UTCDateTime, with_next_link
from dispatch.web import current_user, now, runtime

bp = Blueprint("communities", __name__, url_prefix="/api/v1", description="Communautés (CPTS) et membres")


def visible_community(community_id: int) -> Community:
    """Return the community if the signed-in user may manage it; 403 or 404 otherwise."""
    return managed_community(current_user(), community_id)


@bp.route("/me", methods=["GET"])
@bp.response(200, MeOut)
@bp.alt_response(401, description="Jeton absent ou invalide")
def me() -> dict[str, Any]:
    """Describe the signed-in user, their communities and physician record."""
    user = current_user()
    ids = [m.community_id for m in user.memberships]
    names = dict(db.session.execute(select(Community.id, Community.name).where(Community.id.in_(ids))).all())
    physician = db.session.scalar(select(Physician).where(Physician.user_id == user.id))
    return {
        "id": user.id,
        "login": user.login,
        "name": user.name,
        "role": user.role,
        "communities": [{"id": m.community_id, "name": names.get(m.community_id), "role": m.role} for m in user.memberships],
        "physician": None
        if physician is None
        else {"id": physician.id, "rpps": physician.rpps, "kind": physician.kind, "available": physician.is_available(now())},
    }


@bp.route("/communities", methods=["POST"])
@bp.arguments(CommunityIn)
@bp.response(201, CommunityOut)
@bp.alt_response(409, description="Nom déjà pris")
def create(args: dict[str, Any]) -> Community:
    """Create a community (admin)."""
    policy.require(current_user(), Action.CREATE_COMMUNITY)
    try:
        return service.create_community(now=now(), **args)
    except service.Conflict as exc:
        raise Problem(409, exc.code, exc.detail) from None


@bp.route("/communities", methods=["GET"])
@bp.response(200, CommunityOut(many=True))
def list_communities() -> list[Community]:
    """List the communities the user belongs to (all of them for an admin)."""
    query = select(Community).order_by(Community.id.desc())
    ids = policy.communities_for(current_user())
    if ids is not None:
        query = query.where(Community.id.in_(ids))
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
        windows_valid(args, community)
    except ma.ValidationError as exc:
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors=exc.messages) from None  # type: ignore[arg-type]
    try:
        return service.update_community(community=community, changes=args)
    except service.Conflict as exc:
        raise Problem(409, exc.code, exc.detail) from None


@bp.route("/communities/<int:community_id>/members", methods=["POST"])
@bp.arguments(MemberIn)
@bp.response(201, MemberCreated)
@bp.alt_response(409, description="Identifiant ou RPPS déjà pris (login_taken, rpps_taken), ou pris ailleurs (member_unavailable)")
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
    query = (
        select(User, Membership.role, Physician)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(Physician, Physician.user_id == User.id)
        .where(Membership.community_id == community_id)
        .order_by(User.id.desc())
        .limit(args["limit"])
    )
    if "before" in args:
        query = query.where(User.id < args["before"])
    at = now()
    items = [
        {
            "id": user.id,
            "user_id": user.id,
            "login": user.login,
            "name": user.name,
            "role": role,
            "email": user.email,
            "phone": user.phone,
            "active": user.active,
            "physician": None
            if physician is None
            else {
                "id": physician.id,
                "rpps": physician.rpps,
                "kind": physician.kind,
                "mssante": physician.mssante,
                "address": physician.address,
                "available": physician.is_available(at),
            },
        }
        for user, role, physician in db.session.execute(query)
    ]
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


class ResetOut(Schema):
    expires_at = UTCDateTime()


class ResetIn(Schema):
    channel = ma.fields.String(
        validate=ma.validate.OneOf(accounts.RESET_CHANNELS),
        metadata={"description": "sms ou mail (l'adresse email du membre) ; par défaut SMS s'il a un portable, sinon mail"},
    )


NO_ADDRESS = {
    "sms": ("no_phone", "Ce membre n'a pas de numéro de portable : ajoutez-le d'abord."),
    "mail": ("no_email", "Ce membre n'a pas d'adresse email : ajoutez-la d'abord."),
}


@bp.route("/communities/<int:community_id>/members/<int:user_id>/password-reset", methods=["POST"])
@bp.arguments(ResetIn, required=False)
@bp.response(202, ResetOut)
@bp.alt_response(422, description="Le membre n'a pas de portable (no_phone) ou pas d'email (no_email) pour ce canal")
def reset_password(args: dict[str, Any], community_id: int, user_id: int) -> dict[str, Any]:
    """Send a member a single-use link, valid 24 h, to choose a new password (by SMS or mail); earlier links stop working."""
    community = visible_community(community_id)
    member = service.member_of(community=community, user_id=user_id)
    if member is None or not member.active:
        raise Problem(404, "not_found", "Membre introuvable dans cette communauté.")
    try:
        reset = accounts.start_reset(
            user=member,
            by=current_user(),
            now=now(),
            public_url=current_app.config["DISPATCH_PUBLIC_URL"],
            channel=(args or {}).get("channel"),
        )
    except accounts.NoPhone as exc:
        raise Problem(422, *NO_ADDRESS[exc.channel]) from None
    return {"expires_at": reset.expires_at}
