"""Describe one consultation report, with its French labels, and render it as a PDF."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Table, TableStyle

from dispatch import pdf
from dispatch.french import LOCALE, NBSP, day_pattern

MOTIVE_LABELS: dict[str, str] = {
    "infectious": "Infectiologie",
    "ent": "ORL",
    "respiratory": "Respiratoire",
    "trauma": "Traumatologie",
    "digestive": "Digestif",
    "dermatology": "Dermatologie",
    "rheumatology": "Rhumatologie",
    "urinary": "Urinaire",
    "other": "Autre",
}
KIND_LABELS: dict[str, str] = {
    "titulaire": "titulaire",
    "remplacant": "remplaçant",
    "adjoint": "adjoint",
    "assistant": "assistant",
    "interne": "interne",
    "cami": "médecin du CAMI",
}
SEX_LABELS = {"F": "Féminin", "M": "Masculin", "U": "Indéterminé"}
LOINC = "2.16.840.1.113883.6.1"
CONSULTATION_CODE = "11488-4"
CONSULTATION_LABEL = "Compte rendu de consultation"
RPPS_ROOT = "1.2.250.1.71.4.2.1"  # national physician ids (IdNatPS = "8" + RPPS)
STRUCTURE_ROOT = "1.2.250.1.71.4.2.2"  # national structure ids (IdNatStruct = "3" + SIRET or "1" + FINESS)
# The consultation happens in a GP's practice, out of hospital: the CI-SIS codes that say so, the
# same in the CDA header and in the XDS metadata (TRE_R02-SecteurActivite, TRE_A00-ProducteurDocNonPS).
FACILITY_TYPE = ("SA07", "Cabinet individuel", "1.2.250.1.71.4.2.4")
PRACTICE_SETTING = ("AMBULATOIRE", "Ambulatoire", "1.2.250.1.213.1.1.4.9")
# Our own OID arc: 2.25.<uuid> needs no registration; swap for an ANS-assigned OID if we get one.
DEFAULT_OID_ROOT = f"2.25.{uuid.uuid5(uuid.NAMESPACE_DNS, 'snp-dispatch').int}"
PRODUCER = "SNP Dispatch"

INK, MUTED, RULE = HexColor("#1a2230"), HexColor("#5b6678"), HexColor("#dde3ec")  # the report's, at least 3:1 on white
MARGIN = 20 * mm
WIDTH = A4[0] - 2 * MARGIN - 12  # the text block: between the margins, less the frame's padding (6 pt a side)


@dataclass(frozen=True)
class SynthesisDoc:
    """Everything the report on one consultation shows; times are aware UTC."""

    synthesis_id: int
    request_id: int
    community_name: str
    written_at: datetime
    appointment_at: datetime | None
    place: str | None
    motive: str
    patient_last_name: str
    patient_first_name: str
    patient_birth_date: date | None
    patient_sex: str | None  # "F", "M", "U" or None
    physician_name: str
    physician_rpps: str
    physician_kind: str
    treating_name: str | None
    treating_address: str  # MSSanté address of the treating GP
    text: str
    timezone: str = "Europe/Paris"
    oid_root: str = DEFAULT_OID_ROOT
    custodian_id: str = ""  # IdNatStruct of the organisation keeping the document; "" when not configured
    teleconsultation: bool = False
    # Why another physician saw the patient (what allows a teleconsultation outside the treating GP), in French.
    treating_unavailable: str | None = None
    sas_regulator: str | None = None  # the SAS's regulating physician, "Dr X (RPPS n)": eligibility for the supplement

    @property
    def title(self) -> str:
        """Return the document's title: a teleconsultation says so."""
        return f"{CONSULTATION_LABEL} - téléconsultation" if self.teleconsultation else CONSULTATION_LABEL


# Why the treating GP did not see the patient themselves, as the request's trail says (TREATING_UNAVAILABLE's keys).
TREATING_UNAVAILABLE: dict[str, str] = {
    "refused": "Médecin traitant non disponible à temps : il a décliné la demande.",
    "exclusive_passed": "Médecin traitant non disponible à temps : le délai qui lui était réservé est passé sans réponse.",
    "not_reachable": "Médecin traitant non disponible à temps : il n'était pas joignable par la CPTS à l'ouverture.",
    "none": "Pas de médecin traitant déclaré.",
}


def treating_unavailable(
    *, treating_status: str, treating_physician_id: int | None, accepted_by_id: int | None, trail: list[tuple[str, dict[str, Any]]]
) -> str | None:
    """Say why another physician than the treating GP saw the patient, from the request's trail (type, data), oldest
    first: they declined it, their exclusive time passed, or they were not reachable (None: they saw the patient)."""
    if treating_status != "declared":
        return TREATING_UNAVAILABLE["none"]
    if treating_physician_id is not None and accepted_by_id == treating_physician_id:
        return None
    for type_, data in trail:
        if type_ == "refused" and treating_physician_id is not None and data.get("physician_id") == treating_physician_id:
            return TREATING_UNAVAILABLE["refused"]
    for type_, data in trail:
        if type_ == "community_opened" and (data.get("deadline") or data.get("after") == "treating_unavailable"):
            return TREATING_UNAVAILABLE["exclusive_passed"]
    return TREATING_UNAVAILABLE["not_reachable"]


@dataclass(frozen=True)
class TakenNotice:
    """What a treating GP who is not on the platform is told about their patient."""

    request_id: int
    community_name: str
    opened_at: datetime
    appointment_at: datetime | None
    place: str | None
    physician_name: str
    physician_kind: str
    physician_rpps: str
    patient_last_name: str
    patient_first_name: str
    patient_birth_date: date | None
    treating_name: str | None
    treating_address: str
    timezone: str = "Europe/Paris"
    patient_sex: str | None = None
    notified_at: datetime | None = None  # the message's Date; opened_at when not given


def motive_label(code: str) -> str:
    """Return the French label of a motive code."""
    return MOTIVE_LABELS.get(code, code)


def kind_label(code: str) -> str:
    """Return the French label of a physician kind."""
    return KIND_LABELS.get(code, code)


def format_datetime_fr(moment: datetime, tz: str = "Europe/Paris") -> str:
    """Format an aware instant as 'lundi 23 novembre 2026 à 16:30' in the given zone."""
    zone = ZoneInfo(tz)
    pattern = f"EEEE {day_pattern(moment.astimezone(zone))} MMMM y 'à' HH:mm"
    return format_datetime(moment, pattern, tzinfo=zone, locale=LOCALE)


def numeric_date(value: date) -> str:
    """Return a date as 12/03/1980."""
    return format_date(value, "dd/MM/y", locale=LOCALE)


def _birth(value: date | None) -> str:
    return numeric_date(value) if value else "date de naissance inconnue"


def born(sex: str | None, value: date | None) -> str:
    """Return 'née le 12/03/1980' agreed with the patient's sex."""
    if value is None:
        return "date de naissance inconnue"
    return f"{agree(sex, 'né', 'née', 'né(e)')} le {numeric_date(value)}"


def agree(sex: str | None, masculine: str, feminine: str, neutral: str) -> str:
    """Return the word agreed with a sex: 'F', 'M', or unknown."""
    return {"M": masculine, "F": feminine}.get(sex or "", neutral)


def doctor(name: str) -> str:
    """Return the name prefixed with 'Dr' unless it already is."""
    return name if name.lower().startswith(("dr ", "dr.", "docteur")) else f"Dr {name}"


_PARTICLES = frozenset({"de", "du", "des", "d'", "le", "la", "van", "von", "der", "den", "da", "di", "dos", "del"})
_TITLES = ("dr.", "dr", "docteur", "pr.", "pr", "professeur")


def split_name(name: str) -> tuple[str, str]:
    """Split a name typed as one field into (given, family): 'Dr Anne de La Tour' -> ('Anne', 'de La Tour')."""
    words = name.split()
    while words and words[0].lower() in _TITLES:
        words = words[1:]
    if len(words) < 2:
        return "", " ".join(words)
    upper = [i for i, word in enumerate(words) if word.isupper() and len(word.strip(".-'")) > 1]
    if upper and upper[0] > 0:  # 'Jeanne MARTIN', 'Jean-Paul LE GALL': the capitals are the family name
        return " ".join(words[: upper[0]]), " ".join(words[upper[0] :])
    if upper and upper[-1] < len(words) - 1:  # 'MARTIN Jeanne'
        return " ".join(words[upper[-1] + 1 :]), " ".join(words[: upper[-1] + 1])
    start = next((i for i in range(1, len(words) - 1) if words[i].lower() in _PARTICLES), len(words) - 1)
    return " ".join(words[:start]), " ".join(words[start:])


def patient_label(last: str, first: str) -> str:
    """Return 'LEFÈVRE Zoé'."""
    return f"{last.upper()} {first}"


def utc_stamp(moment: datetime) -> str:
    """Return the instant as YYYYMMDDHHMMSS in UTC, as HL7 and XDS write it."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=pdf.FONT, fontSize=10.5, leading=15, textColor=INK)
    return {
        "body": ParagraphStyle("text", base, spaceAfter=6),
        "title": ParagraphStyle("title", base, fontName=pdf.BOLD, fontSize=16, leading=20, spaceAfter=3),
        "subtitle": ParagraphStyle("subtitle", base, fontSize=11, leading=15, textColor=MUTED, spaceAfter=12),
        "label": ParagraphStyle("label", base, fontName=pdf.BOLD, fontSize=10, leading=13.5),
        "value": ParagraphStyle("value", base, fontSize=10, leading=13.5),
        "h2": ParagraphStyle("h2", base, fontName=pdf.BOLD, fontSize=12, leading=16, spaceBefore=16, spaceAfter=6),
    }


def _rows(doc: SynthesisDoc) -> list[tuple[str, str]]:
    seen = format_datetime_fr(doc.appointment_at, doc.timezone) if doc.appointment_at else "—"
    return [
        ("Patient", patient_label(doc.patient_last_name, doc.patient_first_name)),
        ("Né(e) le", _birth(doc.patient_birth_date)),
        ("Sexe", SEX_LABELS.get(doc.patient_sex or "", "Non renseigné")),
        ("Consultation", seen),
        *([("Modalité", "Téléconsultation")] if doc.teleconsultation else [("Lieu", doc.place or "—")]),
        ("Motif", motive_label(doc.motive)),
        ("Médecin", f"{doctor(doc.physician_name)} ({kind_label(doc.physician_kind)})"),
        ("RPPS", doc.physician_rpps),
        ("Médecin traitant", doc.treating_name or "—"),
        *([("Disponibilité", doc.treating_unavailable)] if doc.treating_unavailable else []),
        *([("Régulation SAS", doc.sas_regulator)] if doc.sas_regulator else []),
        ("Rédigé le", format_datetime_fr(doc.written_at, doc.timezone)),
    ]


def _story(doc: SynthesisDoc) -> list[Flowable]:
    styles = _styles()
    facts = Table(
        [
            [Paragraph(pdf.markup(label), styles["label"]), Paragraph(pdf.markup(value), styles["value"])]
            for label, value in _rows(doc)
        ],
        colWidths=[45 * mm, WIDTH - 45 * mm],
        hAlign="LEFT",
    )
    facts.setStyle(
        TableStyle(
            [
                ("LINEABOVE", (0, 0), (-1, 0), 0.6, RULE),
                ("LINEBELOW", (0, 0), (-1, -1), 0.6, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    subtitle = f"{doc.community_name} – soins non programmés, demande n°{NBSP}{doc.request_id}"
    # The physician's text keeps its line breaks; a blank line starts a new paragraph.
    blocks = [block for block in re.split(r"\n[ \t]*\n", doc.text.strip()) if block.strip()] or ["—"]
    text = [Paragraph(pdf.markup(block), styles["body"]) for block in blocks]
    return [
        Paragraph(pdf.markup(doc.title), styles["title"]),
        Paragraph(pdf.markup(subtitle), styles["subtitle"]),
        facts,
        KeepTogether([Paragraph("Synthèse", styles["h2"]), text[0]]),  # never the heading alone at a page's foot
        *text[1:],
    ]


def build_pdf(doc: SynthesisDoc) -> bytes:
    """Render the consultation report as a deterministic PDF (A4, embedded fonts, 'page n sur N')."""
    pdf.register_fonts()
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=doc.title,
        author=doctor(doc.physician_name),
        creator=PRODUCER,
        producer=PRODUCER,
        lang="fr-FR",
        invariant=True,  # the same document gives the same bytes: no random id, no clock
    )
    stamp = f"D:{utc_stamp(doc.written_at)}+00'00'"

    def dated(canvas: Canvas, _document: SimpleDocTemplate) -> None:
        canvas.setDateFormatter(lambda *_now: stamp)  # the PDF is dated when the physician wrote it

    patient = patient_label(doc.patient_last_name, doc.patient_first_name)
    footer = f"{patient} · {born(doc.patient_sex, doc.patient_birth_date)} · demande n°{NBSP}{doc.request_id}"
    canvas = pdf.numbered(footer, margin=MARGIN + 6, baseline=11 * mm, colour=MUTED)
    document.build(_story(doc), onFirstPage=dated, canvasmaker=canvas)
    return out.getvalue()
