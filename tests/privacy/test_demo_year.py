"""The demo year's figures (the report, its CSV and XLSX, the requests' exports, the PDF) are the same after a retention
run that erases almost every patient of the year and prunes the trail older than 180 days."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from dispatch import texts
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.demo import load_demo
from dispatch.privacy.retention import run_retention
from dispatch.reports.document import report_document
from dispatch.reports.exports import report_csv, report_xlsx, requests_csv, requests_xlsx
from dispatch.reports.service import compute_report
from dispatch.reports.tables import REPORT_TABLES
from dispatch.requests.models import Request


def _cells(body: bytes) -> dict[str, list[list[Any]]]:
    book = load_workbook(io.BytesIO(body))
    return {sheet.title: [[cell.value for cell in row] for row in sheet.iter_rows()] for sheet in book.worksheets}


def _text(body: bytes) -> list[str]:
    """Return the PDF's text, page by page, as tests/reports/test_pdf.py reads it."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(body)).pages]


def _figures(community: Community, clock: Any) -> dict[str, Any]:
    today = texts.local(clock.now(), community.timezone).date()
    start, end = today - timedelta(days=366), today
    report = compute_report(community=community, start=start, end=end)
    return {
        "report": report,
        "csv": {table: report_csv(report, table) for table in REPORT_TABLES},
        "xlsx": _cells(report_xlsx(report)),
        "requests_csv": "".join(requests_csv(community=community, start=start, end=end)),
        "requests_xlsx": _cells(requests_xlsx(community=community, start=start, end=end)),
        "pdf": _text(report_document(community=community, start=start, end=end, now=clock.now())[1]),
    }


def test_the_demo_years_figures_are_the_same_before_and_after_a_retention_run(app: Any, clock: Any) -> None:
    with app.app_context():
        load_demo(app)
        community = db.session.scalar(select(Community).where(Community.name == "CPTS Champigny"))
        assert community is not None
        community.retention_days, community.trail_days = 30, 180  # the shortest the contract allows
        db.session.commit()
        before = _figures(community, clock)
        swept = run_retention(now=clock.now())
        erased = db.session.scalar(select(func.count(Request.id)).where(Request.erased_at.is_not(None)))
        total = db.session.scalar(select(func.count(Request.id)))
        after = _figures(community, clock)
    print(  # noqa: T201 -- the figures the issue's note quotes
        f"demo year: {total} requests, {erased} erased; {swept}; opened {before['report']['opened']} -> "
        f"{after['report']['opened']}, accepted {before['report']['accepted']} -> {after['report']['accepted']}, "
        f"acceptance {before['report']['acceptance_rate']} -> {after['report']['acceptance_rate']}"
    )
    assert swept.requests == erased and erased > 0.8 * total  # all but the last 30 days
    for key in ("report", "csv", "xlsx", "requests_csv", "requests_xlsx", "pdf"):
        assert after[key] == before[key], key
