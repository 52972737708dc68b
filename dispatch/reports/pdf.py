"""The report as a PDF in French for the board, the ARS and the health insurance: figures, charts, tables, definitions.

Built from the figures compute_report returns (no I/O but the embedded fonts): this module is the document's frame
(A4 page, margins, metadata, the footer with "page n sur N"); its sections are drawn by pdf_sections.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, SimpleDocTemplate

from dispatch import french, pdf
from dispatch.reports import pdf_charts as charts
from dispatch.reports import pdf_professions, pdf_regulation
from dispatch.reports import pdf_sections as sections


def report_pdf(report: dict[str, Any], *, community: str, delays: Sequence[tuple[str, int]], issued_at: datetime) -> bytes:
    """Render a report (as compute_report returns it) as a PDF; `issued_at` is the local time of printing."""
    pdf.register_fonts()
    styles = sections.stylesheet()
    start, end = date.fromisoformat(report["from"]), date.fromisoformat(report["to"])
    period = french.period(start, end)
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"Rapport d'activité {community}, {period}",
        author=community,
        subject="Soins non programmés\u00a0: demandes, acceptations, délais, patients absents, appels et rappels",
        creator="SNP Dispatch",
        lang="fr-FR",
    )
    footer = f"{community} · rapport d'activité {period}"
    story: list[Flowable] = [
        sections.paragraph("Rapport d'activité · soins non programmés", styles["title"]),
        sections.paragraph(community, styles["subtitle"]),
        sections.paragraph(period[:1].upper() + period[1:], styles["subtitle"]),
        sections.paragraph(f"Édité le {french.day(issued_at.date())} à {french.hour(issued_at)}", styles["muted"]),
        *sections.headline(report, styles),
        *sections.chart_grid(report, delays, styles),
        *sections.tables(report, styles),
        *pdf_regulation.regulation(report, styles),
        *pdf_professions.professions(report, styles),
        *sections.definitions(styles),
    ]
    document.build(story, canvasmaker=pdf.numbered(footer, margin=18 * mm, baseline=10 * mm, colour=charts.MUTED))
    return out.getvalue()
