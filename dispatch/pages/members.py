"""The members page of staff: list, add, deactivate, and import a CSV roster with an error per faulty line."""

from __future__ import annotations

import csv
import io
import secrets
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from dispatch.auth.models import Membership, User
from dispatch.communities import service as communities
from dispatch.communities.models import Community, Physician
from dispatch.communities.schemas import MemberIn
from dispatch.db import db
from dispatch.pages import bp
from dispatch.pages.common import LABELS, nested_form, pick_community, user_communities, validate
from dispatch.pages.guard import role_page, signed_in
from dispatch.policy import Action
from dispatch.web import now, runtime

# Roster columns (French headers, as a coordinator's spreadsheet has them) → API field names.
COLUMNS = {
    "role": "role",
    "identifiant": "login",
    "nom": "name",
    "email": "email",
    "telephone": "phone",
    "rpps": "rpps",
    "statut": "kind",
    "mssante": "mssante",
    "adresse": "address",
    "mot_de_passe": "password",
}
FIELD_LABELS = {
    "role": "rôle",
    "login": "identifiant",
    "name": "nom",
    "email": "email",
    "phone": "téléphone",
    "rpps": "RPPS",
    "kind": "statut",
    "mssante": "MSSanté",
    "address": "adresse",
    "password": "mot de passe",
    "_schema": "ligne",
}
ROLE_WORDS = {
    "médecin": "physician",
    "medecin": "physician",
    "opérateur": "operator",
    "operateur": "operator",
    "coordinateur": "coordinator",
    "coordinatrice": "coordinator",
    "opératrice": "operator",
}
MAX_ROSTER_BYTES = 512 * 1024


def _members(community: Community) -> list[dict[str, Any]]:
    query = (
        select(User, Membership.role, Physician)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(Physician, Physician.user_id == User.id)
        .where(Membership.community_id == community.id)
        .order_by(User.active.desc(), User.name)
    )
    at = now()
    return [
        {"user": u, "role": role, "physician": p, "available": p.is_available(at) if p else None}
        for u, role, p in db.session.execute(query)
    ]


def _page(
    community: Community,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    roster_errors: list[str] | None = None,
    created: list[dict[str, str]] | None = None,
    status: int = 200,
) -> Any:
    user = signed_in()
    return render_template(
        "pages/members.html",
        community=community,
        members=_members(community),
        labels=LABELS,
        values=values or {"role": "physician"},
        errors=errors or {},
        roster_errors=roster_errors or [],
        created=created or [],
        me=user,
        communities=user_communities(user, Action.MANAGE_COMMUNITY),
    ), status


@bp.route("/pilotage/membres")
@role_page(Action.MANAGE_COMMUNITY)
def members() -> Any:
    """List the community's members, with the forms to add one or import a roster."""
    return _page(pick_community(signed_in(), Action.MANAGE_COMMUNITY))


@bp.route("/pilotage/membres", methods=["POST"])
@role_page(Action.MANAGE_COMMUNITY)
def member_add() -> Any:
    """Add one member, validated like the API's POST /communities/{id}/members."""
    community = pick_community(signed_in(), Action.MANAGE_COMMUNITY)
    data = nested_form()
    data.pop("community", None)
    if data.get("role") != "physician":
        data = {k: v for k, v in data.items() if k not in ("rpps", "kind", "mssante", "address")}
    args, errors = validate(MemberIn(region=community.region), data)
    if args is None:
        return _page(community, values=data, errors=errors, status=422)
    try:
        user, _physician = communities.add_member(community=community, now=now(), ph=runtime().hasher, **args)
    except communities.Conflict as exc:
        field = "rpps" if exc.code == "rpps_taken" else "login"  # member_unavailable names no field: shown at the login
        return _page(community, values=data, errors={field: [exc.detail]}, status=409)
    flash(f"{user.name} ajouté·e à la communauté.", "ok")
    return redirect(url_for("pages.members", community=community.id))


@bp.route("/pilotage/membres/<int:user_id>/desactiver", methods=["POST"])
@role_page(Action.MANAGE_COMMUNITY)
def member_deactivate(user_id: int) -> Any:
    """Deactivate a member: they can no longer sign in and get no more offers."""
    me = signed_in()
    community = pick_community(me, Action.MANAGE_COMMUNITY)
    if user_id == me.id:
        flash("Vous ne pouvez pas désactiver votre propre compte.", "error")
    else:
        try:
            user = communities.deactivate_member(community=community, user_id=user_id, now=now())
        except LookupError:
            flash("Ce compte n'est pas membre de la communauté.", "error")
        else:
            flash(f"Le compte de {user.name} est désactivé.", "ok")
    return redirect(url_for("pages.members", community=community.id))


def parse_roster(raw: bytes) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Read a CSV roster (';' or ',', UTF-8) into (line number, API fields) rows, with French errors per line."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], ["Le fichier doit être enregistré en UTF-8 (CSV)."]
    try:
        dialect: Any = csv.Sniffer().sniff(text.splitlines()[0] if text else "", delimiters=";,")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    headers = [(h or "").strip().lower() for h in reader.fieldnames or []]
    missing = [h for h in ("role", "identifiant", "nom") if h not in headers]
    if missing:
        return [], [f"Colonnes manquantes : {', '.join(missing)} (en-tête attendu : {';'.join(COLUMNS)})."]
    rows: list[tuple[int, dict[str, Any]]] = []
    for record in reader:
        data = {
            COLUMNS[(k or "").strip().lower()]: v.strip()
            for k, v in record.items()
            if (k or "").strip().lower() in COLUMNS and isinstance(v, str) and v.strip()
        }
        if not data:
            continue
        data["role"] = ROLE_WORDS.get(data.get("role", "").lower(), data.get("role", "").lower())
        if "kind" in data:
            data["kind"] = data["kind"].lower().replace("ç", "c")
        rows.append((reader.line_num, data))
    if not rows:
        return [], ["Le fichier ne contient aucune ligne de membre."]
    return rows, []


@bp.route("/pilotage/membres/import", methods=["POST"])
@role_page(Action.MANAGE_COMMUNITY)
def member_import() -> Any:
    """Import a CSV roster: every line is checked first; nothing is added unless all lines are right."""
    community = pick_community(signed_in(), Action.MANAGE_COMMUNITY)
    upload = request.files.get("roster")
    raw = upload.read(MAX_ROSTER_BYTES + 1) if upload else b""
    if not raw or len(raw) > MAX_ROSTER_BYTES:
        return _page(community, roster_errors=["Choisissez un fichier CSV de 512 Kio au plus."], status=422)
    rows, problems = parse_roster(raw)
    valid: list[tuple[int, dict[str, Any], bool]] = []
    for line, data in rows:
        generated = "password" not in data
        if generated:
            data["password"] = secrets.token_urlsafe(12)
        args, errors = validate(MemberIn(region=community.region), data)
        for field, messages in errors.items():
            problems.append(f"Ligne {line} — {FIELD_LABELS.get(field, field)} : {' '.join(messages)}")
        if args is not None:
            valid.append((line, args, generated))
    if not problems:
        try:
            communities.import_members(community=community, members=[a for _l, a, _g in valid], now=now(), ph=runtime().hasher)
        except communities.RosterError as exc:
            problems = [f"Ligne {valid[i][0]} — {message}" for i, message in sorted(exc.errors.items())]
    if problems:
        return _page(community, roster_errors=problems, status=422)
    created = [
        {"name": a["name"], "login": a["login"], "password": a["password"] if generated else "(fourni)"}
        for _l, a, generated in valid
    ]
    flash(f"{len(created)} membre(s) importé(s).", "ok")
    return _page(community, created=created)
