"""Build the consultation report (PDF, CDA, IHE XDM) and the MSSanté messages to the treating GP."""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF

MOTIVE_LABELS: dict[str, str] = {
    "infectious": "Infectiologie", "ent": "ORL", "respiratory": "Respiratoire",
    "trauma": "Traumatologie", "digestive": "Digestif", "dermatology": "Dermatologie",
    "rheumatology": "Rhumatologie", "urinary": "Urinaire", "other": "Autre",
}
KIND_LABELS: dict[str, str] = {
    "titulaire": "titulaire", "remplacant": "remplaçant", "adjoint": "adjoint",
    "assistant": "assistant", "interne": "interne", "cami": "médecin du CAMI",
}
SEX_LABELS = {"F": "Féminin", "M": "Masculin", "U": "Indéterminé"}
LOINC = "2.16.840.1.113883.6.1"
CONSULTATION_CODE = "11488-4"
CONSULTATION_LABEL = "Compte rendu de consultation"
MSS_CODECDA = f"{CONSULTATION_CODE}^{CONSULTATION_LABEL}^{LOINC}"
RPPS_ROOT = "1.2.250.1.71.4.2.1"  # national physician ids (IdNatPS = "8" + RPPS)
# Our own OID arc: 2.25.<uuid> needs no registration; swap for an ANS-assigned OID if we get one.
DEFAULT_OID_ROOT = f"2.25.{uuid.uuid5(uuid.NAMESPACE_DNS, 'snp-dispatch').int}"
PRODUCER = "SNP Dispatch"
HL7 = "urn:hl7-org:v3"
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"

_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre")
# Core PDF fonts only know latin-1: map the usual typographic characters before encoding.
_LATIN1_FIXES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-",
                               "…": "...", "œ": "oe", "Œ": "OE", "\u202f": " ", "€": "EUR"})


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
    return (f"{_DAYS[local.weekday()]} {day} {_MONTHS[local.month - 1]} {local.year}"
            f" à {local:%H:%M}")


def _birth(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "date de naissance inconnue"


def _born(sex: str | None, value: date | None) -> str:
    if value is None:
        return "date de naissance inconnue"
    return f"{_agree(sex, 'né', 'née', 'né(e)')} le {value:%d/%m/%Y}"


def _agree(sex: str | None, masculine: str, feminine: str, neutral: str) -> str:
    return {"M": masculine, "F": feminine}.get(sex or "", neutral)


def _doctor(name: str) -> str:
    return name if name.lower().startswith(("dr ", "dr.", "docteur")) else f"Dr {name}"


def _patient(last: str, first: str) -> str:
    return f"{last.upper()} {first}"


def _latin1(text: str) -> str:
    return text.translate(_LATIN1_FIXES).encode("latin-1", "replace").decode("latin-1")


def _ts(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")


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
    pdf.cell(0, 7, _latin1(f"{doc.community_name} - soins non programmés, demande n° "
                           f"{doc.request_id}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    seen = format_datetime_fr(doc.appointment_at, doc.timezone) if doc.appointment_at else "-"
    rows = [
        ("Patient", _patient(doc.patient_last_name, doc.patient_first_name)),
        ("Né(e) le", _birth(doc.patient_birth_date)),
        ("Sexe", SEX_LABELS.get(doc.patient_sex or "", "Non renseigné")),
        ("Consultation", seen),
        ("Lieu", doc.place or "-"),
        ("Motif", motive_label(doc.motive)),
        ("Médecin", f"{_doctor(doc.physician_name)} ({kind_label(doc.physician_kind)})"),
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


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    # Namespaces are declared on the root by hand: unqualified CDA attributes rule out ET's own.
    prefix = "rim:" if parent.tag.startswith(("rim:", "lcm:")) else ""
    child = ET.SubElement(parent, f"{prefix}{tag}", attrs)
    child.text = text
    return child


def build_cda(doc: SynthesisDoc, pdf: bytes) -> bytes:
    """Wrap the PDF report in a CDA R2 level-1 document."""
    root = ET.Element("ClinicalDocument", xmlns=HL7)
    _el(root, "realmCode", code="FR")
    _el(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    _el(root, "templateId", root="1.2.250.1.213.1.1.1.1")  # CI-SIS header
    _el(root, "id", root=f"{doc.oid_root}.1", extension=str(doc.synthesis_id))
    _el(root, "code", code=CONSULTATION_CODE, displayName=CONSULTATION_LABEL,
        codeSystem=LOINC, codeSystemName="LOINC")
    _el(root, "title", f"{CONSULTATION_LABEL} - soins non programmés")
    _el(root, "effectiveTime", value=f"{_ts(doc.written_at)}+0000")
    _el(root, "confidentialityCode", code="N", codeSystem="2.16.840.1.113883.5.25")
    _el(root, "languageCode", code="fr-FR")
    _el(root, "setId", root=f"{doc.oid_root}.1", extension=str(doc.synthesis_id))
    _el(root, "versionNumber", value="1")
    role = _el(_el(root, "recordTarget"), "patientRole")
    _el(role, "id", root=f"{doc.oid_root}.2", extension=str(doc.request_id))
    patient = _el(role, "patient")
    name = _el(patient, "name")
    _el(name, "given", doc.patient_first_name)
    _el(name, "family", doc.patient_last_name.upper())
    if doc.patient_sex in SEX_LABELS:
        _el(patient, "administrativeGenderCode", code=doc.patient_sex or "",
            codeSystem="2.16.840.1.113883.5.1")
    else:
        _el(patient, "administrativeGenderCode", nullFlavor="UNK")
    if doc.patient_birth_date:
        _el(patient, "birthTime", value=doc.patient_birth_date.strftime("%Y%m%d"))
    else:
        _el(patient, "birthTime", nullFlavor="UNK")
    author = _el(root, "author")
    _el(author, "time", value=f"{_ts(doc.written_at)}+0000")
    assigned = _el(author, "assignedAuthor")
    _el(assigned, "id", root=RPPS_ROOT, extension=f"8{doc.physician_rpps}")
    _el(_el(assigned, "assignedPerson"), "name", doc.physician_name)
    _el(_el(assigned, "representedOrganization"), "name", doc.community_name)
    custodian = _el(_el(_el(root, "custodian"), "assignedCustodian"),
                    "representedCustodianOrganization")
    _el(custodian, "id", root=f"{doc.oid_root}.4", extension=doc.community_name)
    _el(custodian, "name", doc.community_name)
    recipient = _el(_el(root, "informationRecipient"), "intendedRecipient")
    _el(recipient, "telecom", value=f"mailto:{doc.treating_address}")
    if doc.treating_name:
        _el(_el(recipient, "informationRecipient"), "name", doc.treating_name)
    if doc.appointment_at:
        event = _el(_el(root, "documentationOf"), "serviceEvent")
        _el(_el(event, "effectiveTime"), "low", value=f"{_ts(doc.appointment_at)}+0000")
    body = _el(_el(root, "component"), "nonXMLBody")
    _el(body, "text", base64.encodebytes(pdf).decode("ascii"),
        mediaType="application/pdf", representation="B64")
    return bytes(ET.tostring(root, encoding="UTF-8", xml_declaration=True))


def _slot(parent: ET.Element, name: str, *values: str) -> None:
    value_list = _el(_el(parent, "Slot", name=name), "ValueList")
    for value in values:
        _el(value_list, "Value", value)


def _classify(parent: ET.Element, target: str, scheme: str, code: str, label: str,
              coding: str, ident: str) -> None:
    node = _el(parent, "Classification", classificationScheme=scheme, classifiedObject=target,
               nodeRepresentation=code, id=ident)
    _slot(node, "codingScheme", coding)
    _el(_el(node, "Name"), "LocalizedString", value=label)


def _identify(parent: ET.Element, target: str, scheme: str, value: str, label: str,
              ident: str) -> None:
    node = _el(parent, "ExternalIdentifier", identificationScheme=scheme, value=value,
               registryObject=target, id=ident)
    _el(_el(node, "Name"), "LocalizedString", value=label)


def _metadata(doc: SynthesisDoc, cda: bytes) -> bytes:
    created = _ts(doc.written_at)
    patient_id = f"{doc.request_id}^^^&{doc.oid_root}.2&ISO"
    clean = doc.physician_name.replace("^", " ").replace("&", " ")
    author = f"8{doc.physician_rpps}^{clean}^^^^^^^&{RPPS_ROOT}&ISO^D^^^IDNPS"
    request = ET.Element("lcm:SubmitObjectsRequest", {"xmlns:lcm": LCM, "xmlns:rim": RIM})
    objects = _el(request, "RegistryObjectList")
    entry = _el(objects, "ExtrinsicObject", id="Document01", mimeType="text/xml",
                objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1")
    _slot(entry, "creationTime", created)
    _slot(entry, "hash", hashlib.sha1(cda, usedforsecurity=False).hexdigest())  # XDS wants SHA-1
    _slot(entry, "languageCode", "fr-FR")
    _slot(entry, "size", str(len(cda)))
    _slot(entry, "sourcePatientId", patient_id)
    _slot(entry, "URI", "DOC0001.XML")
    _el(_el(entry, "Name"), "LocalizedString", value=CONSULTATION_LABEL)
    cls = _el(entry, "Classification", classificationScheme="urn:uuid:93606bcf-9494-43ec-"
              "9b4e-a7748d1a838d", classifiedObject="Document01", nodeRepresentation="",
              id="Author01")
    _slot(cls, "authorPerson", author)
    for scheme, ident in (("41a5887f-8865-4c09-adf7-e362475b143a", "ClassCode01"),
                          ("f0306f51-975f-434e-a61c-c59651d33983", "TypeCode01")):
        _classify(entry, "Document01", f"urn:uuid:{scheme}", CONSULTATION_CODE,
                  CONSULTATION_LABEL, LOINC, ident)
    _classify(entry, "Document01", "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f", "N",
              "Normal", "2.16.840.1.113883.5.25", "Confidentiality01")
    _classify(entry, "Document01", "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d",
              "urn:ihe:iti:xds-sd:pdf:2008", "PDF/A-1 Scanned Documents",
              "1.3.6.1.4.1.19376.1.2.3", "FormatCode01")
    _identify(entry, "Document01", "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427",
              patient_id, "XDSDocumentEntry.patientId", "DocPatientId01")
    _identify(entry, "Document01", "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab",
              f"{doc.oid_root}.1^{doc.synthesis_id}", "XDSDocumentEntry.uniqueId",
              "DocUniqueId01")
    package = _el(objects, "RegistryPackage", id="SubmissionSet01")
    _slot(package, "submissionTime", created)
    _el(_el(package, "Name"), "LocalizedString", value=CONSULTATION_LABEL)
    cls = _el(package, "Classification", classificationScheme="urn:uuid:a7058bb9-b4e4-4307-"
              "ba5b-e3f0ab85e12d", classifiedObject="SubmissionSet01", nodeRepresentation="",
              id="Author02")
    _slot(cls, "authorPerson", author)
    _classify(package, "SubmissionSet01", "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500",
              CONSULTATION_CODE, CONSULTATION_LABEL, LOINC, "ContentType01")
    for scheme, value, label, ident in (
        ("96fdda7c-d067-4183-912e-bf5ee74998a8", f"{doc.oid_root}.3.{doc.synthesis_id}",
         "XDSSubmissionSet.uniqueId", "SetUniqueId01"),
        ("554ac39e-e3fe-47fe-b233-965d2a147832", doc.oid_root, "XDSSubmissionSet.sourceId",
         "SetSourceId01"),
        ("6b5aea1a-874d-4603-a4bc-96a0a7b38446", patient_id, "XDSSubmissionSet.patientId",
         "SetPatientId01"),
    ):
        _identify(package, "SubmissionSet01", f"urn:uuid:{scheme}", value, label, ident)
    _el(objects, "Classification", classifiedObject="SubmissionSet01", id="SetClass01",
        classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd")
    assoc = _el(objects, "Association", id="Association01", sourceObject="SubmissionSet01",
                targetObject="Document01",
                associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember")
    _slot(assoc, "SubmissionSetStatus", "Original")
    return bytes(ET.tostring(request, encoding="UTF-8", xml_declaration=True))


_INDEX = ("<html><head><meta charset=\"utf-8\"><title>IHE XDM</title></head><body>"
          "<p>Compte rendu de consultation produit par {producer} pour {cpts}.</p>"
          "<p><a href=\"IHE_XDM/SUBSET01/DOC0001.XML\">Document CDA</a> - "
          "<a href=\"IHE_XDM/SUBSET01/METADATA.XML\">Métadonnées</a></p></body></html>\r\n")
_README = ("Archive IHE XDM produite par {producer} ({cpts}).\r\n"
           "Contenu : IHE_XDM/SUBSET01/DOC0001.XML (compte rendu de consultation, CDA R2 "
           "niveau 1) et IHE_XDM/SUBSET01/METADATA.XML (métadonnées XDS).\r\n")


def build_xdm_zip(doc: SynthesisDoc, cda: bytes) -> bytes:
    """Package the CDA as a deterministic IHE_XDM.zip archive."""
    stamp = doc.written_at.astimezone(ZoneInfo(doc.timezone)).timetuple()[:6]
    names = {"producer": PRODUCER, "cpts": doc.community_name}
    files = (
        ("INDEX.HTM", _INDEX.format(**names).encode()),
        ("README.TXT", _README.format(**names).encode()),
        ("IHE_XDM/SUBSET01/METADATA.XML", _metadata(doc, cda)),
        ("IHE_XDM/SUBSET01/DOC0001.XML", cda),
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _headers(msg: EmailMessage, *, sender: str, to: str, subject: str, at: datetime,
             message_id: str, nil: str) -> None:
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at.astimezone(timezone.utc))
    msg["Message-ID"] = message_id
    msg["X-MSS-NIL"] = nil
    msg["X-MSS-INS"] = "N"  # no qualified INS: the identity is the one given on the phone


def build_synthesis_message(doc: SynthesisDoc, *, sender: str, nil: str) -> EmailMessage:
    """Build the MSSanté message carrying the synthesis to the treating GP."""
    sex = doc.patient_sex
    who = _patient(doc.patient_last_name, doc.patient_first_name)
    seen = (f" le {format_datetime_fr(doc.appointment_at, doc.timezone)}"
            if doc.appointment_at else "")
    where = f" ({doc.place})" if doc.place else ""
    greeting = f"Bonjour {_doctor(doc.treating_name)}," if doc.treating_name else "Bonjour,"
    body = (
        f"{greeting}\n\n"
        f"Votre {_agree(sex, 'patient', 'patiente', 'patient(e)')} {who} "
        f"({_born(sex, doc.patient_birth_date)}) "
        f"a été {_agree(sex, 'vu', 'vue', 'vu(e)')}{seen}{where} par "
        f"{_doctor(doc.physician_name)} ({kind_label(doc.physician_kind)}, "
        f"RPPS {doc.physician_rpps}) dans le cadre des soins non programmés "
        f"({doc.community_name}, demande n° {doc.request_id}).\n\n"
        f"Motif : {motive_label(doc.motive)}\n\n"
        f"Synthèse de consultation :\n{doc.text}\n\n"
        "Le compte rendu est joint au format PDF et au format CDA (archive IHE_XDM).\n\n"
        f"Cordialement,\nLa plateforme de soins non programmés - {doc.community_name}\n"
    )
    msg = EmailMessage()
    _headers(msg, sender=sender, to=doc.treating_address, at=doc.written_at, nil=nil,
             subject=f"Synthèse de consultation – {who} – demande n° {doc.request_id}",
             message_id=f"<synthesis-{doc.synthesis_id}@snp-dispatch>")
    msg["X-MSS-CODECDA"] = MSS_CODECDA
    msg["Disposition-Notification-To"] = sender
    msg.set_content(body, cte="quoted-printable")
    pdf = build_pdf(doc)
    msg.add_attachment(pdf, maintype="application", subtype="pdf",
                       filename=f"compte-rendu-{doc.request_id}.pdf")
    msg.add_attachment(build_xdm_zip(doc, build_cda(doc, pdf)), maintype="application",
                       subtype="zip", filename="IHE_XDM.zip")
    for part in msg.iter_attachments():
        del part["MIME-Version"]  # only the top level carries it
    msg.set_boundary(f"=_snp-synthesis-{doc.synthesis_id}")  # stable: same input, same bytes
    return msg


def build_taken_message(notice: TakenNotice, *, sender: str, nil: str) -> EmailMessage:
    """Build the MSSanté message telling a GP off the platform that their patient was seen."""
    sex = notice.patient_sex
    when = (f" le {format_datetime_fr(notice.appointment_at, notice.timezone)}"
            if notice.appointment_at else "")
    where = f" à {notice.place}" if notice.place else ""
    greeting = (f"Bonjour {_doctor(notice.treating_name)},"
                if notice.treating_name else "Bonjour,")
    body = (
        f"{greeting}\n\n"
        f"Votre {_agree(sex, 'patient', 'patiente', 'patient(e)')} "
        f"{_patient(notice.patient_last_name, notice.patient_first_name)} "
        f"({_born(sex, notice.patient_birth_date)}) "
        f"a appelé le {format_datetime_fr(notice.opened_at, notice.timezone)} ; "
        f"{_agree(sex, 'il', 'elle', 'il/elle')} a été "
        f"{_agree(sex, 'pris', 'prise', 'pris(e)')} en charge par "
        f"{_doctor(notice.physician_name)} ({kind_label(notice.physician_kind)}, "
        f"RPPS {notice.physician_rpps}){when}{where}.\n\n"
        "Ce message vous est adressé par la plateforme de soins non programmés "
        f"({notice.community_name}, demande n° {notice.request_id}) afin que vous restiez "
        "informé(e) du parcours de votre patient(e).\n\n"
        f"Cordialement,\nLa plateforme de soins non programmés - {notice.community_name}\n"
    )
    msg = EmailMessage()
    _headers(msg, sender=sender, to=notice.treating_address, nil=nil,
             at=notice.notified_at or notice.opened_at,
             subject=f"Prise en charge de votre patient(e) – demande n° {notice.request_id}",
             message_id=f"<taken-{notice.request_id}@snp-dispatch>")
    msg.set_content(body, cte="quoted-printable")
    return msg
