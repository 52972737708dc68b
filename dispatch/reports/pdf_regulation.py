"""The PDF report's table of the requests regulated by the SAS apart from the others, drawn from the report's figures."""

from __future__ import annotations

from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, KeepTogether, Spacer

from dispatch import french
from dispatch.reports.pdf_sections import WIDTH, grid_table, paragraph, rate

GROUPS = (("sas", "Régulées par le SAS"), ("other", "Autres"))


def regulation(report: dict[str, Any], styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Return the section: the SAS-regulated requests on one line, the others on the next; nothing for a report
    without these figures."""
    by_regulation = report.get("by_regulation")
    if not by_regulation:
        return []
    n = french.number
    rows = []
    for group, label in GROUPS:
        figures = by_regulation[group]
        rows.append(
            [
                label,
                n(figures["opened"]),
                n(figures["accepted"]),
                rate(figures["acceptance_rate"]),
                n(figures["expired"]),
                n(figures["seen"]),
            ]
        )
    widths = [WIDTH * share for share in (0.25, 0.15, 0.15, 0.15, 0.15, 0.15)]
    headers = ("Demandes", "Ouvertes", "Acceptées", "Part acceptée", "Expirées", "Patients vus")
    return [
        KeepTogether(
            [
                paragraph("Régulation SAS", styles["h2"]),
                paragraph(
                    "Les demandes régulées par le SAS et les autres, comptées comme les chiffres clés\u00a0; les patients "
                    "vus des premières sont éligibles au supplément SNP.",
                    styles["muted"],
                ),
                Spacer(1, 3),
                grid_table(headers, rows, widths, styles, text_columns=1),
            ]
        )
    ]
