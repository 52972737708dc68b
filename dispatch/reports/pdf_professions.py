"""The PDF report's section per profession and per distance band: two tables drawn from the report's figures."""

from __future__ import annotations

from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Spacer

from dispatch import french
from dispatch.professions import PROFESSIONS
from dispatch.reports.pdf_sections import WIDTH, grid_table, paragraph, rate
from dispatch.reports.per_profession import BAND_LABELS


def _duration(seconds: int | None) -> str:
    return french.duration(seconds) if seconds is not None else "—"


def professions(report: dict[str, Any], styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Return the section: one line per profession with a request of the period, then one per distance band."""
    n = french.number
    rows = [
        [
            PROFESSIONS.get(code, code),
            n(row["opened"]),
            n(row["accepted"]),
            rate(row["acceptance_rate"]),
            n(row["expired"]),
            _duration(row["time_to_accept_s"]["median"]),
            n(row["refusals"]),
        ]
        for code, row in report.get("by_profession", {}).items()
    ] or [["Aucune demande sur la période.", "", "", "", "", "", ""]]
    bands = [
        [BAND_LABELS.get(row["band"], row["band"]), n(row["accepted"]), _duration(row["median"]), _duration(row["mean"])]
        for row in report.get("acceptance_by_distance", [])
    ]
    # Wide enough for "Masseur-kinésithérapeute" on one line, and for the bold headers to stand apart.
    profession_widths = [WIDTH * share for share in (0.28, 0.10, 0.11, 0.16, 0.10, 0.15, 0.10)]
    band_widths = [WIDTH * share for share in (0.34, 0.22, 0.22, 0.22)]
    headers = ("Profession", "Ouvertes", "Acceptées", "Part acceptée", "Expirées", "Délai médian", "Refus")
    return [
        CondPageBreak(60 * mm),
        paragraph("Par profession", styles["h2"]),
        Spacer(1, 3),
        grid_table(headers, rows, profession_widths, styles, text_columns=1),
        KeepTogether(
            [
                paragraph("Délai d'acceptation selon la distance", styles["h2"]),
                paragraph(
                    "Distance à vol d'oiseau entre le cabinet de celui qui a accepté et le patient\u00a0; inconnue quand "
                    "l'un des deux n'est pas localisé, ou pour le médecin traitant pendant son heure.",
                    styles["muted"],
                ),
                Spacer(1, 3),
                grid_table(("Distance", "Acceptées", "Délai médian", "Délai moyen"), bands, band_widths, styles),
            ]
        ),
    ]
