"""The staff dashboard: the report's figures for a period, SVG charts, the per-physician table, PDF, CSV and XLSX downloads."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, render_template, request, stream_with_context
from markupsafe import Markup

from dispatch import texts
from dispatch.communities.models import Community
from dispatch.errors import Problem
from dispatch.pages import bp, charts
from dispatch.pages.common import LABELS, pick_community, user_communities
from dispatch.pages.guard import role_page, signed_in
from dispatch.periods import FIRST_DAY, LAST_DAY, MAX_DAYS, OUT_OF_RANGE, shortcuts
from dispatch.policy import Action
from dispatch.reports.definitions import CALLBACKS, CALLS, DEFINITIONS, OUTCOMES
from dispatch.reports.delays import delay_buckets
from dispatch.reports.document import PDF_TYPE, report_document
from dispatch.reports.exports import CSV_TYPE, XLSX_TYPE, report_csv, report_xlsx, requests_csv, requests_xlsx
from dispatch.reports.per_profession import BAND_LABELS
from dispatch.reports.service import compute_report
from dispatch.reports.tables import REPORT_SLUGS, REPORT_TABLES, kind_label
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


@bp.route("/pilotage")
@role_page(Action.MANAGE_COMMUNITY)
def dashboard() -> Any:
    """Show the community's report for a chosen period, with charts and the per-physician table."""
    user = signed_in()
    community = pick_community(user, Action.MANAGE_COMMUNITY)
    start, end, errors = period(community)
    report = compute_report(community=community, start=start, end=end)
    today = texts.local(now(), community.timezone).date()
    status = 422 if errors else 200
    return render_template(
        "pages/dashboard.html",
        community=community,
        report=report,
        svg=_charts(report, delay_buckets(community=community, start=start, end=end)),
        errors=errors,
        start=start,
        end=end,
        shortcuts=shortcuts(today),
        definitions=DEFINITIONS,
        labels=LABELS,
        bands=BAND_LABELS,
        communities=user_communities(user, Action.MANAGE_COMMUNITY),
    ), status


def _charts(report: dict[str, Any], delays: list[tuple[str, int]]) -> dict[str, Markup]:
    """Draw the dashboard's charts, the same as the PDF report's."""
    opened, calls = report["opened"], report["calls"]

    def labelled(counts: dict[str, int], labels: dict[str, str], *, by_size: bool = False) -> list[tuple[str, int]]:
        items = [(labels.get(key, key), value) for key, value in counts.items()]
        return sorted(items, key=lambda item: -item[1]) if by_size else items

    kinds = {kind: kind_label(kind) or kind for kind in report["accepted_by_kind"]}
    call_rows = [("Avec une demande", calls["with_request"]), *labelled(calls["without_request"], CALLS)]
    return {
        "months": charts.acceptance_by_month(report["by_month"]),
        "kinds": charts.bars(labelled(report["accepted_by_kind"], kinds, by_size=True), "Demandes acceptées par statut de médecin"),
        "delays": charts.bars(delays, "Répartition du délai d'acceptation", cls="bar-time"),
        "motives": charts.bars(
            labelled(report["by_motive"], texts.MOTIVE_LABELS, by_size=True), "Demandes par motif", total=opened
        ),
        "sources": charts.bars(
            labelled(report["by_source"], texts.SOURCE_LABELS, by_size=True), "Demandes par origine", total=opened
        ),
        "treating": charts.bars(
            labelled(report["treating_physician"], texts.TREATING_LABELS),
            "Médecin traitant du patient",
            total=opened,
            cls="bar-opened",
        ),
        "outcomes": charts.bars(
            labelled(report["outcomes"], OUTCOMES), "Issue des demandes acceptées", total=report["accepted"], cls="bar-accepted"
        ),
        "calls": charts.bars(call_rows, "Appels reçus", total=calls["received"], cls="bar-opened"),
        "callbacks": charts.bars(labelled(report["callbacks"], CALLBACKS), "Rappels des demandes expirées", cls="bar-other"),
    }


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


@bp.route("/pilotage/rapport.pdf")
@role_page(Action.MANAGE_COMMUNITY)
def report_document_download() -> Response:
    """Download the period's report as a PDF in French, to print or send to the board or the ARS."""
    community, start, end = _export_period()
    name, body = report_document(community=community, start=start, end=end, now=now())
    return _download(body, name, PDF_TYPE)


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
