"""Describe one consultation report, with its French labels, and render it as a PDF."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF

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

_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre")
# Core PDF fonts only know latin-1: map the usual typographic characters before encoding.
_LATIN1_FIXES = str.maketrans(
    {"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "œ": "oe", "Œ": "OE", "\u202f": " ", "€": "EUR"}
)


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
    local = moment.astimezone(ZoneInfo(tz))
    day = "1er" if local.day == 1 else str(local.day)
    return f"{_DAYS[local.weekday()]} {day} {_MONTHS[local.month - 1]} {local.year} à {local:%H:%M}"


def _birth(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "date de naissance inconnue"


def born(sex: str | None, value: date | None) -> str:
    """Return 'née le 12/03/1980' agreed with the patient's sex."""
    if value is None:
        return "date de naissance inconnue"
    return f"{agree(sex, 'né', 'née', 'né(e)')} le {value:%d/%m/%Y}"


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


def _latin1(text: str) -> str:
    return text.translate(_LATIN1_FIXES).encode("latin-1", "replace").decode("latin-1")


def utc_stamp(moment: datetime) -> str:
    """Return the instant as YYYYMMDDHHMMSS in UTC, as HL7 and XDS write it."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def build_pdf(doc: SynthesisDoc) -> bytes:
    """Render the consultation report as a deterministic PDF."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(doc.written_at)
    pdf.set_producer(PRODUCER)
    pdf.set_creator(PRODUCER)
    pdf.set_title(CONSULTATION_LABEL)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 10, CONSULTATION_LABEL, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    pdf.cell(
        0, 7, _latin1(f"{doc.community_name} - soins non programmés, demande n° {doc.request_id}"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(4)
    seen = format_datetime_fr(doc.appointment_at, doc.timezone) if doc.appointment_at else "-"
    rows = [
        ("Patient", patient_label(doc.patient_last_name, doc.patient_first_name)),
        ("Né(e) le", _birth(doc.patient_birth_date)),
        ("Sexe", SEX_LABELS.get(doc.patient_sex or "", "Non renseigné")),
        ("Consultation", seen),
        ("Lieu", doc.place or "-"),
        ("Motif", motive_label(doc.motive)),
        ("Médecin", f"{doctor(doc.physician_name)} ({kind_label(doc.physician_kind)})"),
        ("RPPS", doc.physician_rpps),
        ("Médecin traitant", doc.treating_name or "-"),
        ("Rédigé le", format_datetime_fr(doc.written_at, doc.timezone)),
    ]
    for label, value in rows:
        pdf.set_font("helvetica", "B", 11)
        pdf.cell(45, 7, _latin1(label))
        pdf.set_font("helvetica", "", 11)
        pdf.multi_cell(0, 7, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("helvetica", "B", 12)
    pdf.cell(0, 8, _latin1("Synthèse"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    pdf.multi_cell(0, 6, _latin1(doc.text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
