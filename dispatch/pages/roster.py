"""The roster import of the members page: upload a CSV, see its result on a page of its own (POST/redirect/GET, so
reloading never posts the file again), download the template. Imported members are invited, never shown a password."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from dispatch import french
from dispatch.communities import members as use_cases
from dispatch.communities import membership, roster
from dispatch.communities.schemas import MemberIn
from dispatch.errors import Problem
from dispatch.pages import bp
from dispatch.pages.common import LABELS, pick_community, validate
from dispatch.pages.guard import role_page, signed_in
from dispatch.policy import Action
from dispatch.web import now, runtime

MAX_ROSTER_BYTES = 512 * 1024
MAX_REPORTED = 200  # faulty lines listed: a file of thousands of bad lines must not store and show megabytes
TEMPLATE_NAME = "modele-membres.csv"


@bp.route("/pilotage/membres/modele.csv")
@role_page(Action.MANAGE_COMMUNITY)
def roster_template() -> Response:
    """Download the roster template: UTF-8 with BOM, ';', French headers, as French Excel opens it."""
    pick_community(signed_in(), Action.MANAGE_COMMUNITY)
    return Response(
        roster.template(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{TEMPLATE_NAME}"', "Cache-Control": "no-store"},
    )


def check_roster(raw: bytes, community: Any) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Parse and validate every line of a roster like the API's POST …/members; return the valid rows and the report."""
    rows, problems = roster.parse(raw)
    valid: list[tuple[int, dict[str, Any]]] = []
    for line, data in rows:
        args, errors = validate(MemberIn(community=community), data)
        if errors:
            problems += roster.line_errors(line, data, errors)
        elif args is not None:
            valid.append((line, args))
    return valid, problems


def capped(problems: list[str]) -> list[str]:
    """Return the first MAX_REPORTED lines of an import's report, and how many more there are."""
    if len(problems) <= MAX_REPORTED:
        return problems
    more = len(problems) - MAX_REPORTED
    return [*problems[:MAX_REPORTED], f"… et {french.number(more)} autres erreurs\u202f: corrigez d'abord celles-ci."]


@bp.route("/pilotage/membres/import", methods=["POST"])
@role_page(Action.MANAGE_COMMUNITY)
def member_import() -> BaseResponse:
    """Import a CSV roster: every line is checked first; nothing is added unless all lines are right; everyone added
    is invited to choose a password. The result is kept and shown after a redirect."""
    me = signed_in()
    community = pick_community(me, Action.MANAGE_COMMUNITY)
    upload = request.files.get("roster")
    raw = upload.read(MAX_ROSTER_BYTES + 1) if upload else b""
    if not raw or len(raw) > MAX_ROSTER_BYTES:
        flash("Choisissez un fichier CSV de 512\u00a0Kio au plus.", "error")
        return redirect(url_for("pages.members", community=community.id) + "#import")
    valid, problems = check_roster(raw, community)
    added: list[dict[str, Any]] = []
    if not problems:
        members = [args for _line, args in valid]
        try:
            membership.import_members(
                community=community,
                members=members,
                now=now(),
                ph=runtime().hasher,
                by=me,
                public_url=current_app.config["DISPATCH_PUBLIC_URL"],
            )
        except membership.RosterError as exc:
            problems = [f"Ligne {valid[i][0]} — {message}" for i, message in sorted(exc.errors.items())]
            added = _added(members[: len(exc.added)])  # batches committed before a login was taken meanwhile
        else:
            added = _added(members)
    record = use_cases.record_import(
        community=community,
        by=me,
        now=now(),
        filename=upload.filename if upload else None,
        result={"errors": capped(problems), "members": added},
    )
    return redirect(url_for("pages.member_import_result", import_id=record.id, community=community.id), code=303)


def _added(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return what the result page shows of the members added: name, login, role and how they were invited."""
    return [
        {"name": m["name"], "login": m["login"], "role": m["role"], "channel": "sms" if m.get("phone") else "mail"} for m in members
    ]


@bp.route("/pilotage/membres/import/<int:import_id>")
@role_page(Action.MANAGE_COMMUNITY)
def member_import_result(import_id: int) -> Any:
    """Show what an import did: the members added and invited, or each faulty line; reloading posts nothing."""
    me = signed_in()
    community = pick_community(me, Action.MANAGE_COMMUNITY)
    record = use_cases.import_result(import_id=import_id, community=community, by=me)
    if record is None:
        raise Problem(404, "not_found", "Ce résultat d'import n'existe pas ou n'est plus conservé.")
    return render_template(
        "pages/member_import.html",
        community=community,
        record=record,
        errors=record.result.get("errors", []),
        added=record.result.get("members", []),
        labels=LABELS,
    )
