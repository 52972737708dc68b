"""Wrap the consultation report PDF in a CDA R2 level-1 document (CI-SIS header)."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

from dispatch.synthesis.document import (
    CONSULTATION_CODE,
    CONSULTATION_LABEL,
    FACILITY_TYPE,
    LOINC,
    PRACTICE_SETTING,
    RPPS_ROOT,
    STRUCTURE_ROOT,
    SynthesisDoc,
    split_name,
    utc_stamp,
)

HL7 = "urn:hl7-org:v3"
# HL7 France, CI-SIS header, IHE XDS-SD (a PDF in a CDA level 1): the only three templates the CI-SIS
# "structuration minimale" admits on an unstructured document.
# JDV_J143_AdministrativeGender_CISIS has no code for "indeterminate": unknown and indeterminate are "UN".
GENDERS = {"F": ("F", "Féminin"), "M": ("M", "Masculin"), "U": ("UN", "Inconnu")}
TEMPLATES = ("2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1", "1.3.6.1.4.1.19376.1.2.20")


def element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append a child element, in the ebRIM prefix when its parent is ebRIM or LCM."""
    # Namespaces are declared on the root by hand: unqualified CDA attributes rule out ET's own.
    prefix = "rim:" if parent.tag.startswith(("rim:", "lcm:")) else ""
    child = ET.SubElement(parent, f"{prefix}{tag}", attrs)
    child.text = text
    return child


def _person(parent: ET.Element, tag: str, name: str) -> None:
    """Append a person's name split into given and family, as the CI-SIS wants it."""
    given, family = split_name(name)
    node = element(element(parent, tag), "name")
    if given:
        element(node, "given", given)
    element(node, "family", family or name)


def _physician(parent: ET.Element, doc: SynthesisDoc) -> ET.Element:
    """Append the author's national id and name; return the entity for more detail."""
    element(parent, "id", root=RPPS_ROOT, extension=f"8{doc.physician_rpps}")
    _person(parent, "assignedPerson", doc.physician_name)
    return parent


def _structure_id(parent: ET.Element, doc: SynthesisDoc) -> None:
    if doc.custodian_id:
        element(parent, "id", root=STRUCTURE_ROOT, extension=doc.custodian_id)
    else:  # not configured (DISPATCH_CUSTODIAN_ID): say it is unknown rather than invent one
        element(parent, "id", root=STRUCTURE_ROOT, nullFlavor="UNK")


def build_cda(doc: SynthesisDoc, pdf: bytes) -> bytes:
    """Wrap the PDF report in a CDA R2 level-1 document."""
    root = ET.Element("ClinicalDocument", xmlns=HL7)
    element(root, "realmCode", code="FR")
    element(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    for template in TEMPLATES:
        element(root, "templateId", root=template)
    element(root, "id", root=f"{doc.oid_root}.1", extension=str(doc.synthesis_id))
    element(root, "code", code=CONSULTATION_CODE, displayName=CONSULTATION_LABEL, codeSystem=LOINC, codeSystemName="LOINC")
    element(root, "title", f"{doc.title} - soins non programmés")
    element(root, "effectiveTime", value=f"{utc_stamp(doc.written_at)}+0000")
    element(root, "confidentialityCode", code="N", displayName="Normal", codeSystem="2.16.840.1.113883.5.25")
    element(root, "languageCode", code="fr-FR")
    element(root, "setId", root=f"{doc.oid_root}.1", extension=str(doc.synthesis_id))
    element(root, "versionNumber", value="1")
    role = element(element(root, "recordTarget"), "patientRole")
    element(role, "id", root=f"{doc.oid_root}.2", extension=str(doc.request_id))
    patient = element(role, "patient")
    name = element(patient, "name")
    element(name, "given", doc.patient_first_name)
    element(name, "family", doc.patient_last_name.upper(), qualifier="CL")  # the name in use, as told on the phone
    code, label = GENDERS.get(doc.patient_sex or "", GENDERS["U"])
    element(patient, "administrativeGenderCode", code=code, displayName=label, codeSystem="2.16.840.1.113883.5.1")
    if doc.patient_birth_date:
        element(patient, "birthTime", value=doc.patient_birth_date.strftime("%Y%m%d"))
    else:  # the one rule an unknown birth date breaks (CI-SIS wants @value): not invented; a synthesis sent over
        # MSSanté never lacks it (the physician completes the request with the outcome), a PDF read here may
        element(patient, "birthTime", nullFlavor="UNK")
    author = element(root, "author")
    element(author, "time", value=f"{utc_stamp(doc.written_at)}+0000")
    assigned = _physician(element(author, "assignedAuthor"), doc)
    element(element(assigned, "representedOrganization"), "name", doc.community_name)
    custodian = element(element(element(root, "custodian"), "assignedCustodian"), "representedCustodianOrganization")
    _structure_id(custodian, doc)
    element(custodian, "name", doc.community_name)
    recipient = element(element(root, "informationRecipient"), "intendedRecipient")
    element(recipient, "telecom", value=f"mailto:{doc.treating_address}")
    if doc.treating_name:
        _person(recipient, "informationRecipient", doc.treating_name)
    signed = element(root, "legalAuthenticator")  # the physician who saw the patient wrote and signed it
    element(signed, "time", value=f"{utc_stamp(doc.written_at)}+0000")
    element(signed, "signatureCode", code="S")
    _physician(element(signed, "assignedEntity"), doc)
    seen = f"{utc_stamp(doc.appointment_at or doc.written_at)}+0000"
    event = element(element(root, "documentationOf"), "serviceEvent")
    element(element(event, "effectiveTime"), "low", value=seen)
    performer = _physician(element(element(event, "performer", typeCode="PRF"), "assignedEntity"), doc)
    practice = element(performer, "representedOrganization")
    element(practice, "name", doc.community_name)
    code, label, system = PRACTICE_SETTING
    element(practice, "standardIndustryClassCode", code=code, displayName=label, codeSystem=system)
    encounter = element(element(root, "componentOf"), "encompassingEncounter")
    element(element(encounter, "effectiveTime"), "low", value=seen)
    code, label, system = FACILITY_TYPE
    facility = element(element(encounter, "location"), "healthCareFacility")
    element(facility, "code", code=code, displayName=label, codeSystem=system)
    body = element(element(root, "component"), "nonXMLBody")
    element(body, "text", base64.encodebytes(pdf).decode("ascii"), mediaType="application/pdf", representation="B64")
    return bytes(ET.tostring(root, encoding="UTF-8", xml_declaration=True))
