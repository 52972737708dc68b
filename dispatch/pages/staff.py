"""The staff dashboard: the report's figures for a period, SVG charts, the per-physician table, CSV and XLSX downloads."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, render_template, request, stream_with_context
from sqlalchemy import and_, select

from dispatch import texts
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.escalation.models import Request
from dispatch.pages import bp, charts
from dispatch.pages.common import LABELS, pick_community, user_communities
from dispatch.pages.guard import role_page, signed_in
from dispatch.periods import FIRST_DAY, LAST_DAY, MAX_DAYS, OUT_OF_RANGE, utc_bounds
from dispatch.policy import Action
from dispatch.reports.exports import CSV_TYPE, XLSX_TYPE, report_csv, report_xlsx, requests_csv, requests_xlsx
from dispatch.reports.service import compute_report
from dispatch.reports.tables import REPORT_SLUGS, REPORT_TABLES
from dispatch.web import now


def period(community: Community) -> tuple[date, date, dict[str, str]]:
    """Return the period asked for in ?from=&to= (default: the current year to date) and the field errors."""
    today = texts.local(now(), community.timezone).date()
    errors: dict[str, str] = {}
    values = {}
    for key, default in (("from", date(today.year, 1, 1)), ("to", today)):
        raw = request.args.get(key, "")
        try:
            values[key] = date.fromisoformat(raw) if raw else default
        except ValueError:
            errors[key] = "Date invalide (AAAA-MM-JJ)."
            values[key] = default
        if not FIRST_DAY <= values[key] <= LAST_DAY:
            errors[key] = OUT_OF_RANGE
            values[key] = default
    if not errors and values["from"] > values["to"]:
        errors["to"] = "La fin de la période doit suivre son début."
    elif not errors and (values["to"] - values["from"]).days >= MAX_DAYS:
        errors["to"] = "La période couvre deux ans au plus."
    if errors:
        values = {"from": date(today.year, 1, 1), "to": today}
    return values["from"], values["to"], errors


def accept_delays(community: Community, start: date, end: date) -> list[float]:
    """Return the seconds each accepted request of the period waited, for the distribution chart."""
    lower, upper = utc_bounds(start, end, community.timezone)
    rows = db.session.execute(
        select(Request.opened_at, Request.accepted_at).where(
            and_(
                Request.community_id == community.id,
                Request.opened_at >= lower,
                Request.opened_at < upper,
                Request.accepted_at.is_not(None),
            )
        )
    )
    return [(accepted - opened).total_seconds() for opened, accepted in rows if accepted is not None]


@bp.route("/pilotage")
@role_page(Action.MANAGE_COMMUNITY)
def dashboard() -> Any:
    """Show the community's report for a chosen period, with charts and the per-physician table."""
    user = signed_in()
    community = pick_community(user, Action.MANAGE_COMMUNITY)
    start, end, errors = period(community)
    report = compute_report(community=community, start=start, end=end)
    delays = accept_delays(community, start, end)
    svg = {
        "months": charts.acceptance_by_month(report["by_month"]),
        "kinds": charts.horizontal_bars(report["accepted_by_kind"], texts.KIND_LABELS, "Demandes acceptées par statut de médecin"),
        "delays": charts.distribution(charts.bucket_counts(delays)),
    }
    status = 422 if errors else 200
    return render_template(
        "pages/dashboard.html",
        community=community,
        report=report,
        svg=svg,
        errors=errors,
        start=start.isoformat(),
        end=end.isoformat(),
        labels=LABELS,
        communities=user_communities(user, Action.MANAGE_COMMUNITY),
    ), status


def _download(body: Any, name: str, content_type: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _export_period() -> tuple[Community, date, date]:
    """Return the community and the period of a download, or answer 422."""
    community = pick_community(signed_in(), Action.MANAGE_COMMUNITY)
    start, end, errors = period(community)
    if errors:
        raise Problem(422, "invalid", " ".join(errors.values()))
    return community, start, end


@bp.route("/pilotage/rapport.csv")
@role_page(Action.MANAGE_COMMUNITY)
def report_download() -> Response:
    """Download one table of the period's report (?table=summary|by_physician|by_month) as CSV."""
    community, start, end = _export_period()
    table = request.args.get("table", "summary")
    if table not in REPORT_TABLES:
        raise Problem(422, "invalid", "Tableau inconnu : summary, by_physician ou by_month.")
    body = report_csv(compute_report(community=community, start=start, end=end), table)
    return _download(body, f"rapport-{REPORT_SLUGS[table]}-{community.id}-{start}-{end}.csv", CSV_TYPE)


@bp.route("/pilotage/rapport.xlsx")
@role_page(Action.MANAGE_COMMUNITY)
def report_workbook() -> Response:
    """Download the period's report as an XLSX workbook, one sheet per table."""
    community, start, end = _export_period()
    body = report_xlsx(compute_report(community=community, start=start, end=end))
    return _download(body, f"rapport-{community.id}-{start}-{end}.xlsx", XLSX_TYPE)


@bp.route("/pilotage/demandes.csv")
@role_page(Action.MANAGE_COMMUNITY)
def requests_download() -> Response:
    """Download the period's requests as CSV, without patient identity."""
    community, start, end = _export_period()
    body = stream_with_context(requests_csv(community=community, start=start, end=end))
    return _download(body, f"demandes-{community.id}-{start}-{end}.csv", CSV_TYPE)


@bp.route("/pilotage/demandes.xlsx")
@role_page(Action.MANAGE_COMMUNITY)
def requests_workbook() -> Response:
    """Download the period's requests as XLSX, without patient identity."""
    community, start, end = _export_period()
    body = requests_xlsx(community=community, start=start, end=end)
    return _download(body, f"demandes-{community.id}-{start}-{end}.xlsx", XLSX_TYPE)
