"""Package the CDA document as an IHE XDM archive (IHE_XDM.zip) with its XDS metadata."""

from __future__ import annotations

import hashlib
import html
import io
import xml.etree.ElementTree as ET
import zipfile
from zoneinfo import ZoneInfo

from dispatch.synthesis.cda import element
from dispatch.synthesis.document import (
    CONSULTATION_CODE,
    CONSULTATION_LABEL,
    FACILITY_TYPE,
    LOINC,
    PRACTICE_SETTING,
    PRODUCER,
    RPPS_ROOT,
    STRUCTURE_ROOT,
    SynthesisDoc,
    split_name,
    utc_stamp,
)

RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
# CI-SIS XDS metadata (volet "Partage de documents de santé", JDV_J06 and JDV_J10): the class of a
# report is "10 - Compte rendu" in TRE_A03-ClasseDocument; a CDA level 1 whose body is application/pdf
# has the XDS-SD PDF format code (ASS_A12 maps the body's media type to it).
CLASS_CODE = ("10", "Compte rendu", "1.2.250.1.213.1.1.4.1")
FORMAT_CODE = ("urn:ihe:iti:xds-sd:pdf:2008", "PDF embarqué dans un document CDA (IHE XDS-SD)", "1.3.6.1.4.1.19376.1.2.3")


def _slot(parent: ET.Element, name: str, *values: str) -> None:
    value_list = element(element(parent, "Slot", name=name), "ValueList")
    for value in values:
        element(value_list, "Value", value)


def _classify(parent: ET.Element, target: str, scheme: str, code: str, label: str, coding: str, ident: str) -> None:
    node = element(
        parent, "Classification", classificationScheme=scheme, classifiedObject=target, nodeRepresentation=code, id=ident
    )
    _slot(node, "codingScheme", coding)
    element(element(node, "Name"), "LocalizedString", value=label)


def _identify(parent: ET.Element, target: str, scheme: str, value: str, label: str, ident: str) -> None:
    node = element(parent, "ExternalIdentifier", identificationScheme=scheme, value=value, registryObject=target, id=ident)
    element(element(node, "Name"), "LocalizedString", value=label)


def _metadata(doc: SynthesisDoc, cda: bytes) -> bytes:
    created = utc_stamp(doc.written_at)
    patient_id = f"{doc.request_id}^^^&{doc.oid_root}.2&ISO"
    given, family = (part.replace("^", " ").replace("&", " ") for part in split_name(doc.physician_name))
    author = f"8{doc.physician_rpps}^{family}^{given}^^^^^^&{RPPS_ROOT}&ISO^D^^^IDNPS"
    # The author's institution (XON, CI-SIS): the community by its IdNatStruct, the CDA's custodian; none unset.
    institution = ""
    if doc.custodian_id:
        organisation = doc.community_name.replace("^", " ").replace("&", " ")
        institution = f"{organisation}^^^^^&{STRUCTURE_ROOT}&ISO^IDNST^^^{doc.custodian_id}"
    request = ET.Element("lcm:SubmitObjectsRequest", {"xmlns:lcm": LCM, "xmlns:rim": RIM})
    objects = element(request, "RegistryObjectList")
    entry = element(
        objects, "ExtrinsicObject", id="Document01", mimeType="text/xml", objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
    )
    _slot(entry, "creationTime", created)
    _slot(entry, "hash", hashlib.sha1(cda, usedforsecurity=False).hexdigest())  # XDS wants SHA-1
    _slot(entry, "languageCode", "fr-FR")
    _slot(entry, "size", str(len(cda)))
    _slot(entry, "sourcePatientId", patient_id)
    _slot(entry, "URI", "DOC0001.XML")
    element(element(entry, "Name"), "LocalizedString", value=CONSULTATION_LABEL)
    cls = element(
        entry,
        "Classification",
        classificationScheme="urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d",
        classifiedObject="Document01",
        nodeRepresentation="",
        id="Author01",
    )
    _slot(cls, "authorPerson", author)
    if institution:
        _slot(cls, "authorInstitution", institution)
    for scheme, (code, label, coding), ident in (
        ("41a5887f-8865-4c09-adf7-e362475b143a", CLASS_CODE, "ClassCode01"),
        ("f0306f51-975f-434e-a61c-c59651d33983", (CONSULTATION_CODE, CONSULTATION_LABEL, LOINC), "TypeCode01"),
        ("f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1", FACILITY_TYPE, "FacilityType01"),
        ("cccf5598-8b07-4b77-a05e-ae952c785ead", PRACTICE_SETTING, "PracticeSetting01"),
        ("a09d5840-386c-46f2-b5ad-9c3699a4309d", FORMAT_CODE, "FormatCode01"),
    ):
        _classify(entry, "Document01", f"urn:uuid:{scheme}", code, label, coding, ident)
    _classify(
        entry,
        "Document01",
        "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f",
        "N",
        "Normal",
        "2.16.840.1.113883.5.25",
        "Confidentiality01",
    )
    _identify(
        entry,
        "Document01",
        "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427",
        patient_id,
        "XDSDocumentEntry.patientId",
        "DocPatientId01",
    )
    _identify(
        entry,
        "Document01",
        "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab",
        f"{doc.oid_root}.1^{doc.synthesis_id}",
        "XDSDocumentEntry.uniqueId",
        "DocUniqueId01",
    )
    package = element(objects, "RegistryPackage", id="SubmissionSet01")
    _slot(package, "submissionTime", created)
    element(element(package, "Name"), "LocalizedString", value=CONSULTATION_LABEL)
    cls = element(
        package,
        "Classification",
        classificationScheme="urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d",
        classifiedObject="SubmissionSet01",
        nodeRepresentation="",
        id="Author02",
    )
    _slot(cls, "authorPerson", author)
    if institution:
        _slot(cls, "authorInstitution", institution)
    _classify(
        package,
        "SubmissionSet01",
        "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500",
        CONSULTATION_CODE,
        CONSULTATION_LABEL,
        LOINC,
        "ContentType01",
    )
    for scheme, value, label, ident in (
        (
            "96fdda7c-d067-4183-912e-bf5ee74998a8",
            f"{doc.oid_root}.3.{doc.synthesis_id}",
            "XDSSubmissionSet.uniqueId",
            "SetUniqueId01",
        ),
        ("554ac39e-e3fe-47fe-b233-965d2a147832", doc.oid_root, "XDSSubmissionSet.sourceId", "SetSourceId01"),
        ("6b5aea1a-874d-4603-a4bc-96a0a7b38446", patient_id, "XDSSubmissionSet.patientId", "SetPatientId01"),
    ):
        _identify(package, "SubmissionSet01", f"urn:uuid:{scheme}", value, label, ident)
    element(
        objects,
        "Classification",
        classifiedObject="SubmissionSet01",
        id="SetClass01",
        classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd",
    )
    assoc = element(
        objects,
        "Association",
        id="Association01",
        sourceObject="SubmissionSet01",
        targetObject="Document01",
        associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember",
    )
    _slot(assoc, "SubmissionSetStatus", "Original")
    return bytes(ET.tostring(request, encoding="UTF-8", xml_declaration=True))


_INDEX = (
    '<html><head><meta charset="utf-8"><title>IHE XDM</title></head><body>'
    "<p>Compte rendu de consultation produit par {producer} pour {cpts}.</p>"
    '<p><a href="IHE_XDM/SUBSET01/DOC0001.XML">Document CDA</a> - '
    '<a href="IHE_XDM/SUBSET01/METADATA.XML">Métadonnées</a></p></body></html>\r\n'
)
_README = (
    "Archive IHE XDM produite par {producer} ({cpts}).\r\n"
    "Contenu : IHE_XDM/SUBSET01/DOC0001.XML (compte rendu de consultation, CDA R2 "
    "niveau 1) et IHE_XDM/SUBSET01/METADATA.XML (métadonnées XDS).\r\n"
)


def build_xdm_zip(doc: SynthesisDoc, cda: bytes) -> bytes:
    """Package the CDA as a deterministic IHE_XDM.zip archive."""
    stamp = doc.written_at.astimezone(ZoneInfo(doc.timezone)).timetuple()[:6]
    names = {"producer": PRODUCER, "cpts": doc.community_name}
    in_html = {key: html.escape(value, quote=True) for key, value in names.items()}  # opened in the GP's mailbox
    files = (
        ("INDEX.HTM", _INDEX.format(**in_html).encode()),
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
