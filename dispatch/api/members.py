"""Endpoints of a community's members, for admins and its coordinators: add or invite, list, edit, deactivate and
reactivate, send a link to choose a password."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
from flask import current_app, jsonify
from flask_smorest import Blueprint
from sqlalchemy import select

from dispatch import policy
from dispatch.auth import accounts, trail
from dispatch.auth.models import Membership, User
from dispatch.communities import members as use_cases
from dispatch.communities import membership, service
from dispatch.communities.edge import managed_community
from dispatch.communities.models import Community
from dispatch.communities.schemas import (
    AccountEventOut,
    InvitationIn,
    InvitationOut,
    MemberCreated,
    MemberIn,
    MemberOut,
    MemberPatch,
)
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.policy import Action
from dispatch.professions import role_of
from dispatch.schemas import PageArgs, Schema, UTCDateTime, with_next_link
from dispatch.web import current_user, now, runtime

bp = Blueprint("members", __name__, url_prefix="/api/v1", description="Membres des communautés et leurs comptes")

NOT_A_MEMBER = (404, "not_found", "Membre introuvable dans cette communauté.")
NO_ADDRESS = {
    "sms": ("no_phone", "Ce membre n'a pas de numéro de portable\u00a0: ajoutez-le d'abord."),
    "mail": ("no_email", "Ce membre n'a pas d'adresse email\u00a0: ajoutez-la d'abord."),
}


def _community(community_id: int) -> Community:
    return managed_community(current_user(), community_id)


def _public_url() -> str:
    return str(current_app.config["DISPATCH_PUBLIC_URL"])


FORBIDDEN_CODES = (
    "Un coordinateur ne peut pas\u00a0: changer les coordonnées d'un autre coordinateur ou lui envoyer un lien "
    "(peer_account) ; changer le portable, l'email ou l'adresse MSSanté d'un compte en service, ou lui envoyer un lien "
    "(account_in_use) ; désactiver, réactiver ou renommer un autre coordinateur (peer_coordinator)"
)
RATIONED = (
    "Trop de liens (en-tête Retry-After)\u00a0: un par membre toutes les 5 minutes (link_too_soon), 3 par membre en "
    "24 heures (member_links_per_day), 20 par compte qui les envoie en une heure (links_per_hour)"
)


@contextlib.contextmanager
def _member_problems() -> Iterator[None]:
    """Say what a use case on a member refused as the API's problems: not a member 404, not yours to do 403, no
    address on the channel 422, too many links 429 (with Retry-After)."""
    try:
        yield
    except LookupError:
        raise Problem(*NOT_A_MEMBER) from None
    except membership.Forbidden as exc:
        raise Problem(403, exc.code, exc.detail) from None
    except accounts.NoPhone as exc:
        raise Problem(422, *NO_ADDRESS[exc.channel]) from None
    except accounts.Rationed as exc:
        raise Problem(429, exc.code, exc.detail, headers={"Retry-After": str(exc.retry_after)}) from None


def _answer(community: Community, user_id: int) -> dict[str, Any]:
    with _member_problems():
        return use_cases.one_member(community=community, user_id=user_id, now=now())


@bp.route("/communities/<int:community_id>/members", methods=["POST"])
@bp.arguments(MemberIn)
@bp.response(201, MemberCreated)
@bp.alt_response(409, description="Identifiant ou RPPS déjà pris (login_taken, rpps_taken), ou pris ailleurs (member_unavailable)")
@bp.alt_response(429, description=RATIONED)
def add_member(args: dict[str, Any], community_id: int) -> dict[str, Any]:
    """Create an account in the community; without a password, invite the member to choose theirs (SMS or mail)."""
    community = _community(community_id)
    at = now()
    try:
        with _member_problems():
            user, physician = membership.add_member(
                community=community, now=at, ph=runtime().hasher, by=current_user(), public_url=_public_url(), **args
            )
    except service.Conflict as exc:
        raise Problem(409, exc.code, exc.detail) from None
    out: dict[str, Any] = {"user_id": user.id, "role": role_of(user.role, physician.profession if physician else None)}
    if physician is not None:
        out["physician_id"] = physician.id
    if "password" not in args:
        invitation = accounts.latest_invitations([user.id])[user.id]
        out["invitation"] = {"channel": accounts.reset_channel(user, args.get("invite")), "expires_at": invitation.expires_at}
    return out


@bp.route("/communities/<int:community_id>/members", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, MemberOut(many=True))
def members(args: dict[str, Any], community_id: int) -> Any:
    """List the community's members, newest first, each with their latest invitation."""
    _community(community_id)
    query = use_cases.members_query(community_id).order_by(User.id.desc()).limit(args["limit"])
    if "before" in args:
        query = query.where(User.id < args["before"])
    items = use_cases.member_rows([(u, role, p) for u, role, p in db.session.execute(query)], now())
    response = jsonify(MemberOut(many=True).dump(items))
    return with_next_link(response, items, args["limit"])


@bp.route("/communities/<int:community_id>/members/<int:user_id>", methods=["GET"])
@bp.response(200, MemberOut)
def member(community_id: int, user_id: int) -> dict[str, Any]:
    """Describe one member of the community; 404 for anyone who is not one of its members."""
    return _answer(_community(community_id), user_id)


@bp.route("/communities/<int:community_id>/members/<int:user_id>", methods=["PATCH"])
@bp.arguments(MemberPatch)
@bp.response(200, MemberOut)
@bp.alt_response(403, description=FORBIDDEN_CODES)
def edit_member(args: dict[str, Any], community_id: int, user_id: int) -> dict[str, Any]:
    """Change a member's name, email, mobile and, for a physician, kind, MSSanté address and practice address.

    The RPPS, the login and the role do not change (an unknown field is refused); `null` clears an optional field.
    For an account in use, only its holder and the admin change its mobile, email or MSSanté address; the previous
    contact is told of the change, the links already sent stop working, and the admin reads every change in the
    account's trail (…/trail).
    """
    community = _community(community_id)
    try:
        with _member_problems():
            use_cases.update_member(community=community, user_id=user_id, changes=args, by=current_user(), now=now())
    except use_cases.Invalid as exc:
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors=exc.errors) from None
    return _answer(community, user_id)


@bp.route("/communities/<int:community_id>/members/<int:user_id>", methods=["DELETE"])
@bp.response(204)
@bp.alt_response(403, description=FORBIDDEN_CODES)
@bp.alt_response(409, description="Désactiver son propre compte (self_deactivation)")
def deactivate_member(community_id: int, user_id: int) -> None:
    """Deactivate a member, as POST …/deactivate does, answering nothing."""
    _deactivate(_community(community_id), user_id)


def _deactivate(community: Community, user_id: int) -> None:
    if user_id == current_user().id:
        raise Problem(409, "self_deactivation", "Vous ne pouvez pas désactiver votre propre compte.")
    with _member_problems():
        membership.deactivate_member(community=community, user_id=user_id, by=current_user(), now=now())


@bp.route("/communities/<int:community_id>/members/<int:user_id>/deactivate", methods=["POST"])
@bp.response(200, MemberOut)
@bp.alt_response(403, description=FORBIDDEN_CODES)
@bp.alt_response(409, description="Désactiver son propre compte (self_deactivation)")
def deactivate(community_id: int, user_id: int) -> dict[str, Any]:
    """Deactivate a member: no more sign-in and no more offers, their history kept.

    Their tokens and unused links are revoked; deactivating an inactive member again changes nothing.
    """
    community = _community(community_id)
    _deactivate(community, user_id)
    return _answer(community, user_id)


@bp.route("/communities/<int:community_id>/members/<int:user_id>/reactivate", methods=["POST"])
@bp.response(200, MemberOut)
@bp.alt_response(403, description=FORBIDDEN_CODES)
def reactivate(community_id: int, user_id: int) -> dict[str, Any]:
    """Reactivate a member: they sign in again (old sessions stay closed) and get offers again."""
    community = _community(community_id)
    with _member_problems():
        use_cases.reactivate_member(community=community, user_id=user_id, by=current_user(), now=now())
    return _answer(community, user_id)


@bp.route("/communities/<int:community_id>/members/<int:user_id>/invitation", methods=["POST"])
@bp.arguments(InvitationIn, required=False)
@bp.response(202, InvitationOut)
@bp.alt_response(409, description="Compte désactivé (member_inactive), ou le membre a déjà choisi son mot de passe (password_set)")
@bp.alt_response(422, description="Le membre n'a pas de portable (no_phone) ou pas d'email (no_email) pour ce canal")
@bp.alt_response(403, description=FORBIDDEN_CODES)
@bp.alt_response(429, description=RATIONED)
def invite(args: dict[str, Any], community_id: int, user_id: int) -> dict[str, Any]:
    """Send again a single-use link, valid 7 days, to a member who has not chosen their password yet.

    The earlier links stop working; a member who already chose a password needs a reset (409 password_set).
    """
    community = _community(community_id)
    try:
        with _member_problems():
            invitation, channel = use_cases.invite_member(
                community=community,
                user_id=user_id,
                by=current_user(),
                now=now(),
                public_url=_public_url(),
                channel=(args or {}).get("channel"),
            )
    except use_cases.Refused as exc:
        raise Problem(409, exc.code, exc.detail) from None
    return {"channel": channel, "expires_at": invitation.expires_at}


class ResetOut(Schema):
    expires_at = UTCDateTime()


class ResetIn(Schema):
    channel = ma.fields.String(
        validate=ma.validate.OneOf(accounts.RESET_CHANNELS),
        metadata={"description": "sms ou mail (l'adresse email du membre) ; par défaut SMS s'il a un portable, sinon mail"},
    )


@bp.route("/communities/<int:community_id>/members/<int:user_id>/password-reset", methods=["POST"])
@bp.arguments(ResetIn, required=False)
@bp.response(202, ResetOut)
@bp.alt_response(422, description="Le membre n'a pas de portable (no_phone) ou pas d'email (no_email) pour ce canal")
@bp.alt_response(403, description=FORBIDDEN_CODES)
@bp.alt_response(429, description=RATIONED)
def reset_password(args: dict[str, Any], community_id: int, user_id: int) -> dict[str, Any]:
    """Send a member a single-use link, valid 24 h, to choose a new password (by SMS or mail); earlier links stop working.

    For an account in use, only the admin (and the holder) may: a coordinator is answered 403 account_in_use, and the
    holder asks for a link with "Mot de passe oublié ?" on the sign-in page.
    """
    community = _community(community_id)
    with _member_problems():
        reset, _channel = use_cases.reset_member(
            community=community,
            user_id=user_id,
            by=current_user(),
            now=now(),
            public_url=_public_url(),
            channel=(args or {}).get("channel"),
        )
    return {"expires_at": reset.expires_at}


def _trail_reader(community_id: int) -> Community:
    community = _community(community_id)
    policy.require(current_user(), Action.ACCOUNT_TRAIL, community_id=community.id)
    return community


@bp.route("/communities/<int:community_id>/members/<int:user_id>/trail", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, AccountEventOut(many=True))
@bp.alt_response(403, description="Réservé à l'administrateur (admin_only)")
def member_trail(args: dict[str, Any], community_id: int, user_id: int) -> Any:
    """The account's trail, newest first (admin only): who changed which field (before, after), who sent which link to
    which contact, who deactivated or reactivated it, when the holder chose a password."""
    community = _trail_reader(community_id)
    if membership.member_of(community=community, user_id=user_id) is None:
        raise Problem(*NOT_A_MEMBER)
    items = trail.account_trail(user_ids=[user_id], limit=args["limit"], before=args.get("before"))
    return with_next_link(jsonify(AccountEventOut(many=True).dump(items)), items, args["limit"])


@bp.route("/communities/<int:community_id>/member-trail", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, AccountEventOut(many=True))
@bp.alt_response(403, description="Réservé à l'administrateur (admin_only)")
def community_member_trail(args: dict[str, Any], community_id: int) -> Any:
    """The trail of every member account of the community, newest first (admin only)."""
    community = _trail_reader(community_id)
    members = select(Membership.user_id).where(Membership.community_id == community.id)
    items = trail.account_trail(user_ids=members, limit=args["limit"], before=args.get("before"))
    return with_next_link(jsonify(AccountEventOut(many=True).dump(items)), items, args["limit"])
