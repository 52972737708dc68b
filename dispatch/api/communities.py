"""Endpoints of communities, for admins and coordinators (their members: member_views); and who the signed-in user is."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint
from sqlalchemy import select

from dispatch import policy
from dispatch.communities import service
from dispatch.communities.edge import managed_community
from dispatch.communities.identity import IDENTITY_FIELDS
from dispatch.communities.models import Community, Physician, Requester
from dispatch.communities.schemas import CommunityIn, CommunityOut, CommunityPatch, MeOut, windows_valid
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.policy import Action
from dispatch.professions import role_of
from dispatch.web import current_user, now

bp = Blueprint("communities", __name__, url_prefix="/api/v1", description="Communautés (CPTS)")


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
    profession = physician.profession if physician is not None else None
    return {
        "id": user.id,
        "login": user.login,
        "name": user.name,
        "role": role_of(user.role, profession),
        "communities": [
            {"id": m.community_id, "name": names.get(m.community_id), "role": role_of(m.role, profession)} for m in user.memberships
        ],
        "physician": None
        if physician is None
        else {
            "id": physician.id,
            "profession": physician.profession,
            "rpps": physician.rpps,
            "kind": physician.kind,
            "available": physician.is_available(now()),
        },
        "requester": _requester(user),
    }


def _requester(user: Any) -> dict[str, Any] | None:
    """Return a requester's record (profession, RPPS or FINESS), or None for any other role."""
    if user.role != "requester":
        return None
    found = db.session.scalar(select(Requester).where(Requester.user_id == user.id))
    return None if found is None else {"profession": found.profession, "rpps": found.rpps, "finess": found.finess}


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
@bp.alt_response(
    403,
    description="Réglage de l'administrateur seul (admin_only) : budget SMS quotidien, allow_non_mssante, custodian_id, "
    "mssante_from, sms_sender, durées de conservation",
)
def patch(args: dict[str, Any], community_id: int) -> Community:
    """Change a community's name or windows; requests already open keep theirs.

    Only the admin changes its daily SMS budget and `allow_non_mssante` (where the syntheses of its patients may go).
    """
    community = visible_community(community_id)
    if "sms_daily_budget" in args and current_user().role != "admin":
        raise Problem(403, "admin_only", "Seul l'administrateur fixe le budget SMS quotidien d'une communauté.")
    if IDENTITY_FIELDS & args.keys() and current_user().role != "admin":
        raise Problem(403, "admin_only", "Seul l'administrateur fixe l'identité d'une communauté (structure, MSSanté, SMS).")
    if ("retention_days" in args or "trail_days" in args) and current_user().role != "admin":
        raise Problem(403, "admin_only", "Seul l'administrateur règle les durées de conservation, sur la décision de la CPTS.")
    if args.get("allow_non_mssante", community.allow_non_mssante) != community.allow_non_mssante:
        policy.require(current_user(), Action.MAIL_POLICY, community_id=community.id)
    if community.totp_operators and args.get("totp_operators") is False and current_user().role != "admin":
        raise Problem(403, "admin_only", "Seul l'administrateur peut retirer la double authentification des opérateurs.")
    try:
        windows_valid(args, community)
    except ma.ValidationError as exc:
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors=exc.messages) from None  # type: ignore[arg-type]
    try:
        return service.update_community(community=community, changes=args)
    except service.Conflict as exc:
        raise Problem(409, exc.code, exc.detail) from None
