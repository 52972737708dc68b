"""The PDF a coordinator hands a patient who asked for their data (GDPR article 15): pure, no I/O but the fonts."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from dispatch import pdf, texts
from dispatch.synthesis.document import MUTED, _styles, format_datetime_fr, motive_label

TITLE = "Vos données dans le service de soins non programmés"
STATE_FR = {
    "exclusive": "proposée à votre médecin traitant",
    "community": "proposée aux médecins de la CPTS",
    "accepted": "acceptée",
    "seen": "consultation faite",
    "no_show": "patient absent",
    "expired": "sans médecin disponible",
    "cancelled": "annulée",
}


def _value(value: Any, zone: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return format_datetime_fr(value, zone)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def subject_access_pdf(
    *, community_name: str, zone: str, subject: dict[str, Any], requests: list[dict[str, Any]], reference: str, now: datetime
) -> bytes:
    """Render the data subject's requests, their patient data and their trail, as a PDF to hand over."""
    pdf.register_fonts()
    styles = _styles()
    story: list[Any] = [
        Paragraph(pdf.markup(TITLE), styles["title"]),
        Paragraph(
            pdf.markup(f"{community_name} – réponse à la demande d'accès {reference}, le {format_datetime_fr(now, zone)}"),
            styles["subtitle"],
        ),
        Paragraph(
            pdf.markup(
                f"{subject['last_name'].upper()} {subject['first_name']}, né(e) le {_value(subject['birth_date'], zone)} : "
                f"{len(requests)} demande(s) de soins non programmés enregistrée(s)."
            ),
            styles["body"],
        ),
    ]
    for item in requests:
        patient = item["patient"] or {}
        rows = [
            ("Ouverte le", item["opened_at"]),
            ("Origine", texts.SOURCE_LABELS.get(item["source"], item["source"])),
            ("Motif", motive_label(item["motive"])),
            ("Description", item["description"]),
            ("Constantes relevées", texts.observations_text(item.get("observations"))),
            ("Consultation", "Téléconsultation" if item.get("modality") == "teleconsultation" else None),
            ("État", STATE_FR.get(item["state"], item["state"])),
            ("Téléphone", patient.get("phone")),
            ("Code postal, commune", " ".join(filter(None, [patient.get("postcode"), patient.get("city")]))),
            ("Médecin traitant", (item["treating_physician"] or {}).get("name")),
            ("Médecin qui l'a prise", (item["accepted_by"] or {}).get("name")),
            ("Rendez-vous", item["appointment_at"]),
            ("Lieu", item["place"]),
            ("Lien de téléconsultation", item.get("teleconsultation_url")),
            ("Synthèse", item.get("synthesis_text")),
        ]
        story.append(Paragraph(pdf.markup(f"Demande n°{pdf.NBSP}{item['id']}"), styles["h2"]))
        story.extend(
            Paragraph(f"<b>{pdf.markup(label)}</b> : {pdf.markup(_value(value, zone))}", styles["value"]) for label, value in rows
        )
        story.append(Spacer(1, 3 * mm))
        story.append(Paragraph(pdf.markup("Historique"), styles["label"]))
        for event in item["events"]:
            who = (event["actor"] or {}).get("name") or "le service"
            story.append(Paragraph(pdf.markup(f"{_value(event['at'], zone)} – {event['type']} ({who})"), styles["value"]))
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=TITLE,
        lang="fr-FR",
        invariant=True,
    )
    footer = f"Demande d'accès {reference} – {community_name}"
    document.build(story, canvasmaker=pdf.numbered(footer, margin=26 * mm, baseline=11 * mm, colour=MUTED))
    return out.getvalue()
