"""Wrap the consultation report PDF in a CDA R2 level-1 document (CI-SIS header)."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

from dispatch.synthesis.document import (
    CONSULTATION_CODE,
    CONSULTATION_LABEL,
    LOINC,
    RPPS_ROOT,
    SEX_LABELS,
    SynthesisDoc,
    utc_stamp,
)

HL7 = "urn:hl7-org:v3"


def element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append a child element, in the ebRIM prefix when its parent is ebRIM or LCM."""
    # Namespaces are declared on the root by hand: unqualified CDA attributes rule out ET's own.
    prefix = "rim:" if parent.tag.startswith(("rim:", "lcm:")) else ""
    child = ET.SubElement(parent, f"{prefix}{tag}", attrs)
    child.text = text
    return child


def build_cda(doc: SynthesisDoc, pdf: bytes) -> bytes:
    """Wrap the PDF report in a CDA R2 level-1 document."""
    root = ET.Element("ClinicalDocument", xmlns=HL7)
    element(root, "realmCode", code="FR")
    element(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    element(root, "templateId", root="1.2.250.1.213.1.1.1.1")  # CI-SIS header
    element(root, "id", root=f"{doc.oid_root}.1", extension=str(doc.synthesis_id))
    element(root, "code", code=CONSULTATION_CODE, displayName=CONSULTATION_LABEL, codeSystem=LOINC, codeSystemName="LOINC")
    element(root, "title", f"{CONSULTATION_LABEL} - soins non programmés")
    element(root, "effectiveTime", value=f"{utc_stamp(doc.written_at)}+0000")
    element(root, "confidentialityCode", code="N", codeSystem="2.16.840.1.113883.5.25")
    element(root, "languageCode", code="fr-FR")
    element(root, "setId", root=f"{doc.oid_root}.1", extension=str(doc.synthesis_id))
    element(root, "versionNumber", value="1")
    role = element(element(root, "recordTarget"), "patientRole")
    element(role, "id", root=f"{doc.oid_root}.2", extension=str(doc.request_id))
    patient = element(role, "patient")
    name = element(patient, "name")
    element(name, "given", doc.patient_first_name)
    element(name, "family", doc.patient_last_name.upper())
    if doc.patient_sex in SEX_LABELS:
        element(patient, "administrativeGenderCode", code=doc.patient_sex or "", codeSystem="2.16.840.1.113883.5.1")
    else:
        element(patient, "administrativeGenderCode", nullFlavor="UNK")
    if doc.patient_birth_date:
        element(patient, "birthTime", value=doc.patient_birth_date.strftime("%Y%m%d"))
    else:
        element(patient, "birthTime", nullFlavor="UNK")
    author = element(root, "author")
    element(author, "time", value=f"{utc_stamp(doc.written_at)}+0000")
    assigned = element(author, "assignedAuthor")
    element(assigned, "id", root=RPPS_ROOT, extension=f"8{doc.physician_rpps}")
    element(element(assigned, "assignedPerson"), "name", doc.physician_name)
    element(element(assigned, "representedOrganization"), "name", doc.community_name)
    custodian = element(element(element(root, "custodian"), "assignedCustodian"), "representedCustodianOrganization")
    element(custodian, "id", root=f"{doc.oid_root}.4", extension=doc.community_name)
    element(custodian, "name", doc.community_name)
    recipient = element(element(root, "informationRecipient"), "intendedRecipient")
    element(recipient, "telecom", value=f"mailto:{doc.treating_address}")
    if doc.treating_name:
        element(element(recipient, "informationRecipient"), "name", doc.treating_name)
    if doc.appointment_at:
        event = element(element(root, "documentationOf"), "serviceEvent")
        element(element(event, "effectiveTime"), "low", value=f"{utc_stamp(doc.appointment_at)}+0000")
    body = element(element(root, "component"), "nonXMLBody")
    element(body, "text", base64.encodebytes(pdf).decode("ascii"), mediaType="application/pdf", representation="B64")
    return bytes(ET.tostring(root, encoding="UTF-8", xml_declaration=True))
