"""The sections of the report's PDF: headline figures, charts, tables, definitions, and the type they are set in.

Each section is a list of reportlab flowables built from the figures compute_report returns; pdf.py puts them in
the A4 frame. Numbers, shares and durations are written the French way by dispatch.french, as on the pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer, Table
from reportlab.platypus import TableStyle as Style

from dispatch import french, pdf, texts
from dispatch.professions import PHYSICIAN, PROFESSIONS
from dispatch.reports import pdf_charts as charts
from dispatch.reports.definitions import CALLBACKS, CALLS, DEFINITIONS, OUTCOMES
from dispatch.reports.tables import kind_label

WIDTH = A4[0] - 36 * mm - 12  # the text block: between the margins, less the frame's padding (6 pt a side)
HALF = (WIDTH - 8 * mm) / 2


def stylesheet() -> dict[str, ParagraphStyle]:
    """Return the paragraph styles of the report, by name (body, title, h2, cell...)."""
    base = ParagraphStyle("body", fontName=pdf.FONT, fontSize=9, leading=12, textColor=charts.INK)
    return {
        "body": base,
        "title": ParagraphStyle("title", base, fontName=pdf.BOLD, fontSize=18, leading=22, spaceAfter=2),
        "subtitle": ParagraphStyle("subtitle", base, fontSize=12, leading=16),
        "h2": ParagraphStyle("h2", base, fontName=pdf.BOLD, fontSize=12, leading=15, spaceBefore=10, spaceAfter=5),
        "h3": ParagraphStyle("h3", base, fontName=pdf.BOLD, fontSize=9.5, leading=12, spaceAfter=3),
        "muted": ParagraphStyle("muted", base, fontSize=8, leading=10.5, textColor=charts.MUTED),
        "kpi_label": ParagraphStyle("kpi_label", base, fontSize=8, leading=10, textColor=charts.MUTED),
        "cell": ParagraphStyle("cell", base, fontSize=8.5, leading=10.5),
        "term": ParagraphStyle("term", base, fontName=pdf.BOLD, fontSize=8.5, leading=11),
        "definition": ParagraphStyle("definition", base, fontSize=8.5, leading=11, spaceAfter=4),
    }


def paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """Return a paragraph of plain text (escaped, its narrow no-break spaces kept on the line: see dispatch.pdf.markup)."""
    return Paragraph(pdf.markup(text), style)


def headline(report: dict[str, Any], styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Return the headline figures: eight boxes, then the period's other counts in a sentence."""
    delays, outcomes = report["time_to_accept_s"], report["outcomes"]
    boxes = [
        (french.number(report["opened"]), "Demandes ouvertes"),
        (french.number(report["accepted"]), "Demandes acceptées"),
        (french.percent(report["acceptance_rate"]), "Taux d'acceptation"),
        (french.number(report["expired"]), "Expirées sans médecin"),
        (french.duration(delays["median"]), "Délai médian d'acceptation"),
        (french.duration(delays["p90"]), "Délai d'acceptation, 90e centile"),
        (french.number(outcomes["no_show"]), "Patients absents"),
        (french.percent(report["no_show_rate"]), "Taux de patients absents"),
    ]
    rows: list[list[Any]] = []
    for line in (boxes[:4], boxes[4:]):  # the figures as plain strings: drawn whole, their narrow spaces kept
        rows += [[value for value, _label in line], [paragraph(label, styles["kpi_label"]) for _value, label in line]]
    grid = Table(rows, colWidths=[WIDTH / 4] * 4)
    grid.setStyle(
        Style(
            [
                ("BOX", (0, 0), (-1, -1), 0.5, charts.GRID),
                ("LINEBELOW", (0, 1), (-1, 1), 0.5, charts.GRID),
                ("LINEAFTER", (0, 0), (2, -1), 0.5, charts.GRID),
                ("FONTNAME", (0, 0), (-1, 0), pdf.BOLD),
                ("FONTNAME", (0, 2), (-1, 2), pdf.BOLD),
                ("FONTSIZE", (0, 0), (-1, 0), 16),
                ("FONTSIZE", (0, 2), (-1, 2), 16),
                ("TEXTCOLOR", (0, 0), (-1, -1), charts.INK),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, 0), 7),
                ("TOPPADDING", (0, 2), (-1, 2), 7),
                ("BOTTOMPADDING", (0, 1), (-1, 1), 7),
                ("BOTTOMPADDING", (0, 3), (-1, 3), 7),
            ]
        )
    )
    syntheses = report["syntheses"]
    n, c = french.number, french.count
    details = (
        f"Sur la période : {c(report['cancelled'], 'demande annulée', 'demandes annulées')}, {n(report['open'])} en cours, "
        f"{n(report['refusals'])} refus. Acceptées par le médecin traitant : {n(report['accepted_by_treating'])} ; "
        f"par un autre médecin de la communauté : {n(report['accepted_in_community'])}. "
        f"Patients vus : {n(outcomes['seen'])} ; issue non renseignée : {n(outcomes['pending'])}. "
        f"Synthèses au médecin traitant : {c(syntheses['sent'], 'envoyée', 'envoyées')}"
        + (
            f" (dont {c(syntheses['delivered'], 'remise', 'remises')} et {c(syntheses['read'], 'lue', 'lues')})"
            if "delivered" in syntheses
            else ""
        )
        + (f", {c(syntheses['refused'], 'refusée', 'refusées')}" if "refused" in syntheses else "")
        + f", {n(syntheses['failed'])} en échec, {n(syntheses['pending'])} en attente."
    )
    return [
        paragraph("Chiffres clés", styles["h2"]),
        grid,
        Spacer(1, 5),
        paragraph(french.typography(details), styles["body"]),
    ]


def _chart(title: str, drawing: Flowable, styles: dict[str, ParagraphStyle], note: str | None = None) -> list[Flowable]:
    parts: list[Flowable] = [paragraph(french.typography(title), styles["h3"])]
    if note:
        parts.append(paragraph(note, styles["muted"]))
    return [*parts, drawing]


def _labelled(counts: dict[str, int], labels: dict[str, str]) -> list[tuple[str, int]]:
    return [(labels.get(key, key), value) for key, value in counts.items()]


def _sorted(items: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(items, key=lambda item: -item[1])


def chart_grid(report: dict[str, Any], delays: Sequence[tuple[str, int]], styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Return the charts: opened and accepted by month, then a grid of bar charts (requests, physicians, calls)."""
    opened = report["opened"]
    calls = report["calls"]
    kinds = [(kind_label(kind) or kind, value) for kind, value in report["accepted_by_kind"].items()]
    call_rows = [("Avec une demande", calls["with_request"])] + _labelled(calls["without_request"], CALLS)
    pairs = [
        (
            _chart(
                "Demandes par motif",
                charts.bars(_sorted(_labelled(report["by_motive"], texts.MOTIVE_LABELS)), width=HALF, total=opened),
                styles,
            ),
            _chart(
                "Demandes par origine",
                charts.bars(_sorted(_labelled(report["by_source"], texts.SOURCE_LABELS)), width=HALF, total=opened),
                styles,
            ),
        ),
        (
            _chart("Acceptées par statut de médecin", charts.bars(_sorted(kinds), width=HALF), styles),
            _chart(
                "Médecin traitant du patient",
                charts.bars(
                    _labelled(report["treating_physician"], texts.TREATING_LABELS), width=HALF, total=opened, colour=charts.OPENED
                ),
                styles,
            ),
        ),
        (
            _chart(
                "Issue des demandes acceptées",
                charts.bars(_labelled(report["outcomes"], OUTCOMES), width=HALF, total=report["accepted"]),
                styles,
            ),
            _chart("Délai avant acceptation", charts.bars(list(delays), width=HALF, colour=charts.TIME), styles),
        ),
        (
            _chart(
                f"Appels reçus : {french.number(calls['received'])}",
                charts.bars(call_rows, width=HALF, total=calls["received"], colour=charts.OPENED),
                styles,
            ),
            _chart(
                "Rappels des demandes expirées",
                charts.bars(_labelled(report["callbacks"], CALLBACKS), width=HALF, colour=charts.OTHER),
                styles,
            ),
        ),
    ]
    grid = Table([list(pair) for pair in pairs], colWidths=[HALF + 4 * mm, HALF + 4 * mm])
    grid.setStyle(
        Style([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 10)])
    )
    month_legend = charts.legend(
        [
            (charts.OPENED, "Ouvertes"),
            (charts.ACCEPTED, "Acceptées"),
            (colors.white, "au-dessus : part des demandes ouvertes acceptées"),
        ],
        width=WIDTH,
    )
    return [
        KeepTogether(
            [
                paragraph("Demandes ouvertes et acceptées par mois", styles["h2"]),
                month_legend,
                charts.months(report["by_month"], width=WIDTH),
            ]
        ),
        paragraph("Les demandes, les médecins, les appels", styles["h2"]),
        grid,
    ]


def rate(value: float | None) -> str:
    """Return a rate as the tables print it: a French percentage, or a dash when there was nothing to rate."""
    return french.percent(value) if value is not None else "—"


def grid_table(
    headers: Sequence[str],
    rows: list[list[str]],
    widths: Sequence[float],
    styles: dict[str, ParagraphStyle],
    *,
    text_columns: int | None = None,
) -> Table:
    """Return a table whose first `text_columns` columns wrap (names, labels; by default 2 past 5 columns, else 1)
    and whose figures are right-aligned strings."""
    text = text_columns if text_columns is not None else 2 if len(headers) > 5 else 1
    body = [[paragraph(v, styles["cell"]) if i < text else v for i, v in enumerate(row)] for row in rows]
    table = Table([list(headers), *body], colWidths=list(widths), repeatRows=1)
    table.setStyle(
        Style(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 1, charts.AXIS),
                ("LINEBELOW", (0, 1), (-1, -1), 0.4, charts.GRID),
                ("FONTNAME", (0, 0), (-1, -1), pdf.FONT),
                ("FONTNAME", (0, 0), (-1, 0), pdf.BOLD),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("TEXTCOLOR", (0, 0), (-1, -1), charts.INK),
                ("ALIGN", (text, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _status(row: dict[str, Any]) -> str:
    """Return a physician's status (titulaire, CAMI...), or another professional's profession (Infirmier...)."""
    profession = row.get("profession") or PHYSICIAN
    if profession != PHYSICIAN:
        return PROFESSIONS.get(profession, profession)
    return kind_label(row["kind"]) or row["kind"]


def tables(report: dict[str, Any], styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Return the tables: one line per physician offered a request, then one per month."""
    n = french.number
    physicians = [
        [
            row["name"],
            _status(row),
            n(row["offered"]),
            n(row["accepted"]),
            n(row["refused"]),
            n(row.get("released", 0)),
        ]
        for row in report["by_physician"]
    ]
    if not physicians:
        physicians = [["Aucune demande proposée sur la période.", "", "", "", "", ""]]
    months = [
        [
            french.month(row["month"]),
            n(row["opened"]),
            n(row["accepted"]),
            n(row["expired"]),
            rate(row["acceptance_rate"]),
        ]
        for row in report["by_month"]
    ]
    physician_widths = [WIDTH * share for share in (0.24, 0.22, 0.125, 0.125, 0.12, 0.17)]
    month_widths = [WIDTH * share for share in (0.28, 0.18, 0.18, 0.18, 0.18)]
    return [
        CondPageBreak(60 * mm),
        paragraph("Par médecin", styles["h2"]),
        paragraph(
            "Chaque médecin à qui au moins une demande de la période a été proposée, le plus d'acceptations en tête.",
            styles["muted"],
        ),
        Spacer(1, 3),
        grid_table(
            ("Médecin", "Statut", "Proposées", "Acceptées", "Refusées", "Désistements"), physicians, physician_widths, styles
        ),
        KeepTogether(
            [
                paragraph("Par mois", styles["h2"]),
                grid_table(("Mois", "Ouvertes", "Acceptées", "Expirées", "Part acceptée"), months, month_widths, styles),
            ]
        ),
    ]


def definitions(styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Return what each indicator means, one term and its definition kept together."""
    out: list[Flowable] = [CondPageBreak(70 * mm), paragraph("Définitions des indicateurs", styles["h2"])]
    for term, text in DEFINITIONS:
        out.append(KeepTogether([paragraph(term, styles["term"]), paragraph(text, styles["definition"])]))
    return out
