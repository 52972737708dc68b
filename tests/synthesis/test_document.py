"""The consultation report: PDF, CDA, IHE XDM archive and MSSanté messages."""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import hashlib
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, date, datetime
from email.message import EmailMessage

import pytest
from pypdf import PdfReader

from dispatch.synthesis.cda import build_cda
from dispatch.synthesis.document import (
    KIND_LABELS,
    MOTIVE_LABELS,
    SynthesisDoc,
    TakenNotice,
    build_pdf,
    format_datetime_fr,
    motive_label,
)
from dispatch.synthesis.messages import build_synthesis_message, build_taken_message, new_message_id
from dispatch.synthesis.xdm import build_xdm_zip

V3 = "{urn:hl7-org:v3}"
RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
SENDER = "snp@cpts-vdb.mssante.fr"
TEXT = "Otite moyenne aiguë ; sœur déjà traitée – amoxicilline 7 j. L’enfant de l’Haÿ ira mieux."


def make_doc(**changes: object) -> SynthesisDoc:
    doc = SynthesisDoc(
        synthesis_id=7,
        request_id=42,
        community_name="CPTS Val-de-Bièvre",
        written_at=datetime(2026, 11, 23, 17, 5, tzinfo=UTC),
        appointment_at=datetime(2026, 11, 23, 15, 30, tzinfo=UTC),
        place="Maison de santé de l’Haÿ",
        motive="ent",
        patient_last_name="Lefèvre",
        patient_first_name="Zoé",
        patient_birth_date=date(1980, 3, 12),
        patient_sex="F",
        physician_name="Jeanne Martin",
        physician_rpps="10003456789",
        physician_kind="remplacant",
        treating_name="Paul Durand",
        treating_address="paul.durand@medecin.mssante.fr",
        text=TEXT,
    )
    return dataclasses.replace(doc, **changes)  # type: ignore[arg-type]


def make_notice(**changes: object) -> TakenNotice:
    notice = TakenNotice(
        request_id=42,
        community_name="CPTS Val-de-Bièvre",
        opened_at=datetime(2026, 11, 23, 13, 2, tzinfo=UTC),
        appointment_at=datetime(2026, 11, 23, 15, 30, tzinfo=UTC),
        place="Centre de soins non programmés",
        physician_name="Jeanne Martin",
        physician_kind="cami",
        physician_rpps="10003456789",
        patient_last_name="Lefèvre",
        patient_first_name="Zoé",
        patient_birth_date=date(1980, 3, 12),
        treating_name=None,
        treating_address="paul.durand@medecin.mssante.fr",
    )
    return dataclasses.replace(notice, **changes)  # type: ignore[arg-type]


def parse(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def pdf_text(pdf: bytes) -> str:
    """Return the text of a PDF as a reader extracts it, its no-break spaces made plain ones."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return "\n".join(page.extract_text() for page in pages).replace("\u00a0", " ").replace("\u202f", " ")


def test_labels_are_french() -> None:
    assert motive_label("ent") == "ORL"
    assert motive_label("trauma") == "Traumatologie"
    assert set(MOTIVE_LABELS) >= {"infectious", "respiratory", "digestive", "dermatology", "rheumatology", "urinary", "other"}
    assert KIND_LABELS["remplacant"] == "remplaçant"
    assert KIND_LABELS["cami"] == "médecin du CAMI"


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        (datetime(2026, 11, 23, 15, 30, tzinfo=UTC), "Europe/Paris", "lundi 23 novembre 2026 à 16:30"),
        (datetime(2026, 7, 31, 22, 5, tzinfo=UTC), "Europe/Paris", "samedi 1er août 2026 à 00:05"),
        (datetime(2026, 11, 23, 15, 30, tzinfo=UTC), "America/Cayenne", "lundi 23 novembre 2026 à 12:30"),
    ],
)
def test_format_datetime_fr(moment: datetime, zone: str, expected: str) -> None:
    assert format_datetime_fr(moment, zone) == expected


def test_pdf_is_deterministic_and_well_formed() -> None:
    pdf = build_pdf(make_doc())
    assert pdf == build_pdf(make_doc())
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert b"/CreationDate (D:20261123170500" in pdf
    assert b"/Producer (SNP Dispatch)" in pdf
    text = pdf_text(pdf)
    assert "LEFÈVRE Zoé" in text and "12/03/1980" in text and "10003456789" in text
    assert TEXT in text  # the embedded font draws "œ", "’", "–" and the narrow spaces French needs
    assert "page 1 sur 1" in text and "lundi 23 novembre 2026 à 16:30" in text
    assert build_pdf(make_doc(text="Autre texte")) != pdf


def test_pdf_keeps_line_breaks_and_replaces_what_the_font_cannot_draw() -> None:
    text = pdf_text(build_pdf(make_doc(text='Fièvre à 39 °C\nα-bloquant ≥ 5 mg 🙂\n\nCPTS <Nord> & "Sud"')))
    assert "Fièvre à 39 °C\n?-bloquant ≥ 5 mg ?\n" in text  # replaced, never dropped nor a blank box
    assert 'CPTS <Nord> & "Sud"' in text


def test_cda_has_the_required_header_and_the_pdf() -> None:
    pdf = build_pdf(make_doc())
    cda = build_cda(make_doc(), pdf)
    assert cda == build_cda(make_doc(), pdf)
    root = ET.fromstring(cda)
    assert root.tag == f"{V3}ClinicalDocument"
    assert root.find(f"{V3}typeId").get("extension") == "POCD_HD000040"  # type: ignore[union-attr]
    code = root.find(f"{V3}code")
    assert code is not None and code.get("code") == "11488-4"
    assert code.get("codeSystem") == "2.16.840.1.113883.6.1"
    assert root.find(f"{V3}id").get("extension") == "7"  # type: ignore[union-attr]
    assert root.find(f"{V3}effectiveTime").get("value") == "20261123170500+0000"  # type: ignore[union-attr]
    assert root.find(f"{V3}confidentialityCode").get("code") == "N"  # type: ignore[union-attr]
    assert root.find(f"{V3}languageCode").get("code") == "fr-FR"  # type: ignore[union-attr]
    patient = root.find(f"{V3}recordTarget/{V3}patientRole/{V3}patient")
    assert patient is not None
    assert patient.findtext(f"{V3}name/{V3}family") == "LEFÈVRE"
    assert patient.findtext(f"{V3}name/{V3}given") == "Zoé"
    assert patient.find(f"{V3}administrativeGenderCode").get("code") == "F"  # type: ignore[union-attr]
    assert patient.find(f"{V3}birthTime").get("value") == "19800312"  # type: ignore[union-attr]
    author_id = root.find(f"{V3}author/{V3}assignedAuthor/{V3}id")
    assert author_id is not None and author_id.get("root") == "1.2.250.1.71.4.2.1"
    assert author_id.get("extension") == "810003456789"
    assert root.findtext(f"{V3}author/{V3}assignedAuthor/{V3}assignedPerson/{V3}name/{V3}family") == "Martin"
    assert root.findtext(f"{V3}author/{V3}assignedAuthor/{V3}assignedPerson/{V3}name/{V3}given") == "Jeanne"
    custodian = f"{V3}custodian/{V3}assignedCustodian/{V3}representedCustodianOrganization"
    assert root.findtext(f"{custodian}/{V3}name") == "CPTS Val-de-Bièvre"
    text = root.find(f"{V3}component/{V3}nonXMLBody/{V3}text")
    assert text is not None and text.get("mediaType") == "application/pdf"
    assert text.get("representation") == "B64"
    assert base64.b64decode(text.text or "") == pdf


def test_cda_without_sex_nor_birth_date_uses_null_flavors() -> None:
    doc = make_doc(patient_sex=None, patient_birth_date=None, appointment_at=None)
    root = ET.fromstring(build_cda(doc, build_pdf(doc)))
    patient = root.find(f"{V3}recordTarget/{V3}patientRole/{V3}patient")
    assert patient is not None
    assert patient.find(f"{V3}administrativeGenderCode").get("code") == "UN"  # type: ignore[union-attr]
    assert patient.find(f"{V3}birthTime").get("nullFlavor") == "UNK"  # type: ignore[union-attr]


def test_xdm_zip_holds_the_cda_and_matching_metadata() -> None:
    doc = make_doc()
    cda = build_cda(doc, build_pdf(doc))
    archive_bytes = build_xdm_zip(doc, cda)
    assert archive_bytes == build_xdm_zip(doc, cda)
    with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
        assert sorted(archive.namelist()) == [
            "IHE_XDM/SUBSET01/DOC0001.XML",
            "IHE_XDM/SUBSET01/METADATA.XML",
            "INDEX.HTM",
            "README.TXT",
        ]
        assert archive.read("IHE_XDM/SUBSET01/DOC0001.XML") == cda
        assert archive.getinfo("README.TXT").date_time == (2026, 11, 23, 18, 5, 0)
        metadata_bytes = archive.read("IHE_XDM/SUBSET01/METADATA.XML")
    metadata = ET.fromstring(metadata_bytes)
    entry = metadata.find(f"{RIM}RegistryObjectList/{RIM}ExtrinsicObject")
    assert entry is not None and entry.get("mimeType") == "text/xml"
    slots = {slot.get("name"): [v.text for v in slot.iter(f"{RIM}Value")] for slot in entry.findall(f"{RIM}Slot")}
    assert slots["hash"] == [hashlib.sha1(cda, usedforsecurity=False).hexdigest()]
    assert slots["size"] == [str(len(cda))]
    assert slots["creationTime"] == ["20261123170500"]
    assert slots["URI"] == ["DOC0001.XML"]
    codes = {c.get("nodeRepresentation") for c in entry.findall(f"{RIM}Classification")}
    assert "11488-4" in codes
    author = entry.find(f"{RIM}Classification/{RIM}Slot[@name='authorPerson']/{RIM}ValueList")
    assert author is not None and (author.findtext(f"{RIM}Value") or "").startswith("810003456789^Martin^Jeanne^")
    schemes = {c.get("classificationScheme"): c for c in entry.findall(f"{RIM}Classification")}

    def coded(scheme: str) -> tuple[str | None, list[str | None]]:
        node = schemes[f"urn:uuid:{scheme}"]
        return node.get("nodeRepresentation"), [v.text for v in node.iter(f"{RIM}Value")]

    assert coded("41a5887f-8865-4c09-adf7-e362475b143a") == ("10", ["1.2.250.1.213.1.1.4.1"])  # classCode
    assert coded("f0306f51-975f-434e-a61c-c59651d33983") == ("11488-4", ["2.16.840.1.113883.6.1"])  # typeCode
    assert coded("f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1") == ("SA07", ["1.2.250.1.71.4.2.4"])  # healthcareFacilityTypeCode
    assert coded("cccf5598-8b07-4b77-a05e-ae952c785ead") == ("AMBULATOIRE", ["1.2.250.1.213.1.1.4.9"])  # practiceSettingCode
    assert coded("a09d5840-386c-46f2-b5ad-9c3699a4309d") == ("urn:ihe:iti:xds-sd:pdf:2008", ["1.3.6.1.4.1.19376.1.2.3"])
    # the metadata say what the CDA header says
    cda_root = ET.fromstring(cda)
    facility = cda_root.find(f"{V3}componentOf/{V3}encompassingEncounter/{V3}location/{V3}healthCareFacility/{V3}code")
    assert facility is not None and facility.get("code") == "SA07"
    setting = cda_root.find(
        f".//{V3}serviceEvent/{V3}performer/{V3}assignedEntity/{V3}representedOrganization/{V3}standardIndustryClassCode"
    )
    assert setting is not None and setting.get("code") == "AMBULATOIRE"
    assert b"PDF/A" not in metadata_bytes  # our PDF is not PDF/A: the metadata do not claim it
    assert metadata.find(f"{RIM}RegistryObjectList/{RIM}RegistryPackage") is not None


def test_synthesis_message_headers_and_parts() -> None:
    message = build_synthesis_message(make_doc(), sender=SENDER, nil="NIL-7", ident="<m-1@cpts.mssante.fr>")
    assert (
        message.as_bytes()
        == build_synthesis_message(make_doc(), sender=SENDER, nil="NIL-7", ident="<m-1@cpts.mssante.fr>").as_bytes()
    )
    parsed = parse(message)
    assert parsed["From"].addresses[0].addr_spec == SENDER
    assert parsed["From"].addresses[0].display_name == make_doc().community_name  # the CPTS writes to the GP
    assert parsed["To"] == "paul.durand@medecin.mssante.fr"
    assert parsed["Subject"] == "Synthèse de consultation – LEFÈVRE Zoé – demande n° 42"
    assert parsed["Message-ID"] == "<m-1@cpts.mssante.fr>"
    assert parsed["Date"].datetime == datetime(2026, 11, 23, 17, 5, tzinfo=UTC)
    assert parsed["X-MSS-NIL"] == "NIL-7"
    assert parsed["X-MSS-INS"] == "N"
    assert parsed["X-MSS-CODECDA"] == "11488-4"  # the CDA's code, bare (Ref. socle #2 ECO.2.4.1)
    assert parsed["Disposition-Notification-To"] == SENDER
    assert parsed.get_content_type() == "multipart/mixed"
    body = parsed.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Votre patiente LEFÈVRE Zoé (née le 12/03/1980)" in text
    assert "lundi 23 novembre 2026 à 16:30" in text
    assert "Dr Jeanne Martin (remplaçant, RPPS 10003456789)" in text
    assert "Motif : ORL" in text
    assert TEXT in text
    attachments = {p.get_filename(): p for p in parsed.iter_attachments()}
    pdf_part, zip_part = attachments["compte-rendu-42.pdf"], attachments["IHE_XDM.zip"]
    assert pdf_part.get_content_type() == "application/pdf"
    assert zip_part.get_content_type() == "application/zip"
    pdf = pdf_part.get_content()
    assert pdf == build_pdf(make_doc())
    with zipfile.ZipFile(io.BytesIO(zip_part.get_content())) as archive:
        cda = ET.fromstring(archive.read("IHE_XDM/SUBSET01/DOC0001.XML"))
    assert base64.b64decode(cda.findtext(f"{V3}component/{V3}nonXMLBody/{V3}text") or "") == pdf


def test_synthesis_message_id_is_the_one_given_and_new_ones_are_unguessable() -> None:
    first = build_synthesis_message(make_doc(), sender=SENDER, nil="N", ident="<m-1@cpts.mssante.fr>")
    other = build_synthesis_message(make_doc(synthesis_id=8), sender=SENDER, nil="N", ident="<m-2@cpts.mssante.fr>")
    assert (first["Message-ID"], other["Message-ID"]) == ("<m-1@cpts.mssante.fr>", "<m-2@cpts.mssante.fr>")
    assert first.get_boundary() != other.get_boundary()
    drawn = {new_message_id(SENDER) for _ in range(1000)}
    assert len(drawn) == 1000 and all(re.fullmatch(r"<[0-9a-f]{32}@[^@<>]+>", ident) for ident in drawn)


def test_taken_message_in_french() -> None:
    message = build_taken_message(make_notice(), sender=SENDER, nil="NIL-7", ident="<m-1@cpts.mssante.fr>")
    assert (
        message.as_bytes()
        == build_taken_message(make_notice(), sender=SENDER, nil="NIL-7", ident="<m-1@cpts.mssante.fr>").as_bytes()
    )
    parsed = parse(message)
    assert parsed["Message-ID"] == "<m-1@cpts.mssante.fr>"
    assert parsed["X-MSS-NIL"] == "NIL-7"  # on every message
    assert parsed["X-MSS-CODECDA"] is None and parsed["X-MSS-INS"] is None  # no CDA attached
    # One read receipt asked per patient: the synthesis's; this notice asks for none (issue 22).
    assert parsed["Disposition-Notification-To"] is None
    assert parsed["From"].addresses[0].display_name == make_notice().community_name
    assert parsed.get_content_type() == "text/plain"
    text = parsed.get_content()
    assert (
        "Votre patient(e) LEFÈVRE Zoé (né(e) le 12/03/1980) a appelé le lundi "
        "23 novembre 2026 à 14:02 ; il/elle a été pris(e) en charge par Dr Jeanne Martin "
        "(médecin du CAMI, RPPS 10003456789) le lundi 23 novembre 2026 à 16:30 à Centre de "
        "soins non programmés."
    ) in " ".join(text.split())


def test_taken_message_agrees_with_a_known_sex_and_tolerates_gaps() -> None:
    text = build_taken_message(
        make_notice(patient_sex="M", appointment_at=None, place=None, patient_birth_date=None),
        sender=SENDER,
        nil="N",
        ident="<m-1@cpts.mssante.fr>",
    ).get_content()
    flat = " ".join(text.split())
    assert "Votre patient LEFÈVRE Zoé (date de naissance inconnue) a appelé" in flat
    assert "il a été pris en charge par Dr Jeanne Martin (médecin du CAMI, RPPS 10003456789)." in (flat)
