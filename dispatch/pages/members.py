"""The members page of staff: list, add and invite, edit, deactivate after a confirmation, reactivate, resend an
invitation (the roster import is in dispatch.pages.roster)."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse

from dispatch import policy, texts
from dispatch.auth import accounts, trail
from dispatch.auth.models import Membership
from dispatch.communities import members as use_cases
from dispatch.communities import membership
from dispatch.communities import service as communities
from dispatch.communities.models import Community
from dispatch.communities.schemas import MemberIn, MemberPatch
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.pages import bp
from dispatch.pages.common import LABELS, nested_form, phone_link, pick_community, user_communities, validate
from dispatch.pages.guard import role_page, signed_in
from dispatch.policy import Action
from dispatch.requests.models import Request
from dispatch.requests.states import State
from dispatch.web import now, runtime

NNBSP = "\u202f"
ACCESS = {"sms": "Invitation par SMS", "mail": "Invitation par mail", "password": "Mot de passe provisoire"}
CHANNEL_WORDS = {"sms": "par SMS", "mail": "par mail"}
EDITABLE = ("name", "phone", "email", "kind", "mssante", "address", "practice_phone")
PHYSICIAN_ONLY = ("kind", "mssante", "address", "practice_phone")


def _when(at: Any, community: Community) -> str:
    return texts.local(at, community.timezone).strftime("%d/%m/%Y à %H:%M") if at else ""


def invitation_label(member: dict[str, Any], community: Community) -> str | None:
    """Say in French where a member's invitation stands: « Invitation envoyée le 23/11/2026 à 15:00 », …"""
    invitation = member["invitation"]
    if invitation is None:
        return "Sans mot de passe" if member["pending"] else None
    status = invitation["status"]
    by = CHANNEL_WORDS.get(invitation["channel"] or "", "")
    if status == "sent":
        return f"Invitation envoyée {by} le {_when(invitation['sent_at'] or invitation['created_at'], community)}"
    if status == "sending":
        return f"Invitation en cours d'envoi {by}"
    if status == "failed":
        return f"Échec de l'envoi de l'invitation {by}{NNBSP}: vérifiez le numéro ou l'adresse"
    if status == "expired":
        return f"Invitation expirée le {_when(invitation['expires_at'], community)}"
    if status == "cancelled" and member["pending"]:
        return "Invitation annulée"
    return None


def may(me: Any, row: dict[str, Any]) -> dict[str, bool]:
    """Say which of a member's buttons the signed-in user gets, by the rules the use cases apply (membership)."""
    in_use = not row["pending"]
    return {
        "may_link": membership.contact_refusal(by=me, user_id=row["user_id"], role=row["role"], in_use=in_use) is None,
        "may_manage": membership.standing_refusal(by=me, user_id=row["user_id"], role=row["role"]) is None,
    }


def _members(community: Community) -> list[dict[str, Any]]:
    rows = use_cases.list_members(community=community, now=now())
    me = signed_in()
    for row in rows:
        row.update(may(me, row))
        row["phone_text"] = (phone_link(row["phone"]) or {}).get("text", "")
        row["invitation_label"] = invitation_label(row, community)
        row["awaiting"] = row["active"] and row["pending"]
    return rows


def _page(
    community: Community, *, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None, status: int = 200
) -> Any:
    user = signed_in()
    rows = _members(community)
    history = None
    if policy.allows(user, Action.ACCOUNT_TRAIL, community_id=community.id):
        members_of = select(Membership.user_id).where(Membership.community_id == community.id)
        history = trail_lines(trail.account_trail(user_ids=members_of, limit=30), community)
    return render_template(
        "pages/members.html",
        history=history,
        community=community,
        members=rows,
        counts={"active": sum(1 for m in rows if m["active"]), "awaiting": sum(1 for m in rows if m["awaiting"])},
        labels=LABELS,
        access=ACCESS,
        values=values or {"role": "physician", "access": "sms"},
        errors=errors or {},
        me=user,
        communities=user_communities(user, Action.MANAGE_COMMUNITY),
    ), status


def _back(community: Community) -> BaseResponse:
    return redirect(url_for("pages.members", community=community.id))


def _member_or_404(community: Community, user_id: int) -> dict[str, Any]:
    try:
        return use_cases.one_member(community=community, user_id=user_id, now=now())
    except LookupError:
        raise Problem(404, "not_found", "Ce compte n'est pas membre de la communauté.") from None


@bp.route("/pilotage/membres")
@role_page(Action.MANAGE_COMMUNITY)
def members() -> Any:
    """List the community's members, with the forms to add one or import a roster."""
    return _page(pick_community(signed_in(), Action.MANAGE_COMMUNITY))


@bp.route("/pilotage/membres", methods=["POST"])
@role_page(Action.MANAGE_COMMUNITY)
def member_add() -> Any:
    """Add one member, validated like the API's POST /communities/{id}/members; invite them unless given a password."""
    me = signed_in()
    community = pick_community(me, Action.MANAGE_COMMUNITY)
    data = nested_form()
    data.pop("community", None)
    values = dict(data)
    access = data.pop("access", "sms")
    if access in CHANNEL_WORDS:
        data.pop("password", None)
        data["invite"] = access
    if data.get("role") == "requester":
        data = {k: v for k, v in data.items() if k not in PHYSICIAN_ONLY}
    elif data.get("role") != "physician":
        data = {k: v for k, v in data.items() if k not in ("rpps", "profession", "finess", *PHYSICIAN_ONLY)}
    else:
        data.pop("finess", None)
        data.pop("profession", None)
    if access == "password" and "password" not in data:
        args, errors = None, {"password": ["Choisissez un mot de passe provisoire, ou envoyez une invitation."]}
    else:
        args, errors = validate(MemberIn(community=community), data)
    if args is None:
        return _page(community, values=values, errors=errors, status=422)
    try:
        user, _physician = membership.add_member(
            community=community,
            now=now(),
            ph=runtime().hasher,
            by=me,
            public_url=current_app.config["DISPATCH_PUBLIC_URL"],
            **args,
        )
    except communities.Conflict as exc:
        field = "rpps" if exc.code == "rpps_taken" else "login"  # member_unavailable names no field: shown at the login
        return _page(community, values=values, errors={field: [exc.detail]}, status=409)
    except accounts.Rationed as exc:
        return _page(community, values=values, errors={"access": [exc.detail]}, status=429)
    if "invite" in args:
        flash(
            f"{user.name} ajouté·e à la communauté{NNBSP}: une invitation à choisir son mot de passe (lien valable "
            f"7 jours) part {CHANNEL_WORDS[args['invite']]}.",
            "ok",
        )
    else:
        flash(f"{user.name} ajouté·e à la communauté avec le mot de passe provisoire que vous avez choisi.", "ok")
    return _back(community)


@bp.route("/pilotage/membres/<int:user_id>/modifier", methods=["GET", "POST"])
@role_page(Action.MANAGE_COMMUNITY)
def member_edit(user_id: int) -> Any:
    """Edit a member's name, contacts and, for a physician, kind, MSSanté address and practice (not the RPPS)."""
    community = pick_community(signed_in(), Action.MANAGE_COMMUNITY)
    member = _member_or_404(community, user_id)
    physician = member["physician"]
    current = {
        "name": member["name"],
        "phone": (phone_link(member["phone"]) or {}).get("text", ""),
        "email": member["email"] or "",
        **({k: physician[k] or "" for k in PHYSICIAN_ONLY} if physician else {}),
    }
    if request.method == "GET":
        return _edit_page(community, member, current, {})
    fields = EDITABLE if physician else tuple(f for f in EDITABLE if f not in PHYSICIAN_ONLY)
    values = {field: request.form.get(field, "").strip() for field in fields}
    changes: dict[str, Any] = {field: value or None for field, value in values.items()}
    changes["name"] = values["name"]  # required: a blank name is refused, not cleared
    if physician and not values.get("kind"):
        changes.pop("kind")
    args, errors = validate(MemberPatch(community=community), changes)
    if args is None:
        return _edit_page(community, member, values, errors, status=422)
    try:
        use_cases.update_member(community=community, user_id=user_id, changes=args, by=signed_in(), now=now())
    except membership.Forbidden as exc:
        return _edit_page(community, member, values, {"_refused": [exc.detail]}, status=403)
    except use_cases.Invalid as exc:
        return _edit_page(community, member, values, exc.errors, status=422)
    flash(f"Fiche de {args['name']} enregistrée.", "ok")
    return _back(community)


def _edit_page(
    community: Community, member: dict[str, Any], values: dict[str, Any], errors: dict[str, list[str]], status: int = 200
) -> Any:
    me = signed_in()
    history = None
    if policy.allows(me, Action.ACCOUNT_TRAIL, community_id=community.id):
        history = trail_lines(trail.account_trail(user_ids=[member["user_id"]], limit=50), community)
    return render_template(
        "pages/member_edit.html",
        community=community,
        member={**member, **may(me, member)},
        values=values,
        errors=errors,
        labels=LABELS,
        invitation_label=invitation_label(member, community),
        history=history,
    ), status


TRAIL_FIELDS = {
    "name": "le nom",
    "phone": "le portable",
    "email": "l'email",
    "mssante": "l'adresse MSSanté",
    "kind": "le statut",
    "address": "l'adresse du cabinet",
    "practice_phone": "le téléphone du cabinet",
}
PURPOSES = {"reset": "un lien de réinitialisation", "invitation": "une invitation"}


def trail_lines(events: list[dict[str, Any]], community: Community) -> list[dict[str, str]]:
    """Say in French each line of accounts' trails: when, who, whose account, what (before → after, or where)."""
    lines = []
    for event in events:
        data, by = event["data"], event["by"]
        who = "le titulaire (hors connexion)" if by is None else f"{by['name']} ({LABELS['roles'].get(by['role'], by['role'])})"
        action = event["action"]
        if action == "edited":
            what = (
                f"a changé {TRAIL_FIELDS.get(data.get('field'), data.get('field'))}{NNBSP}: "
                f"«{NNBSP}{data.get('before') or '—'}{NNBSP}» → «{NNBSP}{data.get('after') or '—'}{NNBSP}»"
            )
        elif action == "link":
            link = PURPOSES.get(data.get("purpose"), "un lien")
            what = f"a envoyé {link} {CHANNEL_WORDS.get(data.get('channel'), '')} à {data.get('to') or '—'}"
        elif action == "created":
            contacts = ", ".join(str(data[k]) for k in ("phone", "email", "mssante") if data.get(k))
            what = "a ouvert le compte" + (f" ({contacts})" if contacts else "")
        elif action == "password_changed":
            what = "a choisi un mot de passe"
        else:
            what = {"deactivated": "a désactivé le compte", "reactivated": "a réactivé le compte"}.get(action, action)
        lines.append({"when": _when(event["at"], community), "who": who, "whose": event["user"]["name"], "what": what})
    return lines


def _open_acceptances(member: dict[str, Any]) -> int:
    """Count the patients a physician accepted and has not yet seen (they stay theirs after deactivation)."""
    if member["physician"] is None:
        return 0
    query = select(func.count()).where(Request.accepted_by_id == member["physician"]["id"], Request.state == State.ACCEPTED)
    return db.session.scalar(query) or 0


def _held_for(member: dict[str, Any]) -> int:
    """Count the requests held for a physician alone as treating GP (they go to the community when deactivated)."""
    if member["physician"] is None:
        return 0
    query = select(func.count()).where(Request.treating_physician_id == member["physician"]["id"], Request.state == State.EXCLUSIVE)
    return db.session.scalar(query) or 0


@bp.route("/pilotage/membres/<int:user_id>/desactiver", methods=["GET", "POST"])
@role_page(Action.MANAGE_COMMUNITY)
def member_deactivate(user_id: int) -> Any:
    """Ask to confirm, naming the member, then deactivate: no more sign-in, no more offers, history kept."""
    me = signed_in()
    community = pick_community(me, Action.MANAGE_COMMUNITY)
    member = _member_or_404(community, user_id)
    if user_id == me.id:
        flash("Vous ne pouvez pas désactiver votre propre compte.", "error")
        return _back(community)
    if not member["active"]:
        flash(f"Le compte de {member['name']} est déjà désactivé.", "ok")
        return _back(community)
    if request.method == "GET" or request.form.get("confirm") != "oui":
        return render_template(
            "pages/member_deactivate.html",
            community=community,
            member=member,
            accepted=_open_acceptances(member),
            held=_held_for(member),
        )
    try:
        membership.deactivate_member(community=community, user_id=user_id, by=me, now=now())
    except membership.Forbidden as exc:
        flash(exc.detail, "error")
        return _back(community)
    flash(f"Le compte de {member['name']} est désactivé. Son historique est conservé.", "ok")
    return _back(community)


@bp.route("/pilotage/membres/<int:user_id>/reactiver", methods=["POST"])
@role_page(Action.MANAGE_COMMUNITY)
def member_reactivate(user_id: int) -> BaseResponse:
    """Reactivate a member: they can sign in again and get offers."""
    community = pick_community(signed_in(), Action.MANAGE_COMMUNITY)
    try:
        user = use_cases.reactivate_member(community=community, user_id=user_id, by=signed_in(), now=now())
    except LookupError:
        flash("Ce compte n'est pas membre de la communauté.", "error")
    except membership.Forbidden as exc:
        flash(exc.detail, "error")
    else:
        flash(f"Le compte de {user.name} est réactivé.", "ok")
    return _back(community)


@bp.route("/pilotage/membres/<int:user_id>/inviter", methods=["POST"])
@role_page(Action.MANAGE_COMMUNITY)
def member_invite(user_id: int) -> BaseResponse:
    """(Re)send an invited member a link, valid 7 days, to choose their password; the earlier link stops working."""
    me = signed_in()
    community = pick_community(me, Action.MANAGE_COMMUNITY)
    asked = request.form.get("channel")
    try:
        _invitation, channel = use_cases.invite_member(
            community=community,
            user_id=user_id,
            by=me,
            now=now(),
            public_url=current_app.config["DISPATCH_PUBLIC_URL"],
            channel=asked if asked in CHANNEL_WORDS else None,
        )
    except LookupError:
        flash("Ce compte n'est pas membre de la communauté.", "error")
    except (membership.Forbidden, use_cases.Refused, accounts.Rationed) as exc:
        flash(exc.detail, "error")
    except accounts.NoPhone as exc:
        missing = "de numéro de portable" if exc.channel == "sms" else "d'adresse email"
        flash(f"Ce membre n'a pas {missing}{NNBSP}: modifiez sa fiche d'abord.", "error")
    else:
        user = membership.member_of(community=community, user_id=user_id)
        name = user.name if user is not None else ""
        flash(f"Invitation envoyée {CHANNEL_WORDS[channel]} à {name} (lien valable 7 jours, une seule fois).", "ok")
    return _back(community)
