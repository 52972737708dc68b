"""The synthesis CDA passes the ANS conformance kit: CDA extended XSD and CI-SIS schematron (issue 15)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from dispatch.synthesis.cda import build_cda
from dispatch.synthesis.document import build_pdf
from dispatch.synthesis.messages import build_synthesis_message
from tests.api.test_outcome_birth_date import opened_without_birth_date
from tests.synthesis.ans_kit.kit import AnsKit
from tests.synthesis.test_document import make_doc

CUSTODIAN = "312345678900011"  # "3" + a SIRET


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> AnsKit:
    return AnsKit(Path(tmp_path_factory.mktemp("ans-kit")))


def test_the_cda_sent_in_the_xdm_archive_has_no_failed_rule(kit: AnsKit) -> None:
    message = build_synthesis_message(
        make_doc(custodian_id=CUSTODIAN), sender="snp@cpts.mssante.fr", nil="NIL", ident="<x@cpts.mssante.fr>"
    )
    archive = next(part for part in message.iter_attachments() if part.get_filename() == "IHE_XDM.zip")
    with zipfile.ZipFile(io.BytesIO(archive.get_content())) as xdm:
        cda = xdm.read("IHE_XDM/SUBSET01/DOC0001.XML")
    assert kit.failures(cda) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"patient_sex": None, "appointment_at": None, "place": None},
        {"patient_sex": "U", "treating_name": None, "physician_name": "Durand"},
        {"physician_name": "Dr Anne de La Tour", "treating_name": "Jean-Paul LE GALL", "patient_sex": "M"},
        {"custodian_id": "1750000123", "community_name": 'CPTS <Nord> & "Sud"', "text": "Fièvre à 39 °C"},
        {  # issue 27: a teleconsultation by another physician than the treating GP, regulated by the SAS
            "teleconsultation": True,
            "place": None,
            "treating_unavailable": "Médecin traitant non disponible à temps : il a décliné la demande.",
            "sas_regulator": "Dr Hélène Régulatrice (RPPS 10000009992)",
        },
    ],
)
def test_every_shape_of_synthesis_has_no_failed_rule(kit: AnsKit, changes: dict[str, object]) -> None:
    doc = make_doc(**{"custodian_id": CUSTODIAN, **changes})
    assert kit.failures(build_cda(doc, build_pdf(doc))) == []


BIRTH_TIME_RULE = (
    "/ClinicalDocument/recordTarget/patientRole/patient/birthTime: (CI-SISRecordTarget): attribute @value SHALL be present."
)


def test_an_unknown_birth_date_is_the_one_rule_left_to_the_operator(kit: AnsKit) -> None:
    """The CI-SIS wants the birth date: without it we say it is unknown (HL7's nullFlavor UNK) rather than invent one,
    and that breaks exactly one rule of the kit, no other (the schema takes it)."""
    doc = make_doc(custodian_id=CUSTODIAN, patient_birth_date=None)
    cda = build_cda(doc, build_pdf(doc))
    assert b'<birthTime nullFlavor="UNK" />' in cda
    assert kit.failures(cda) == [BIRTH_TIME_RULE]


@pytest.mark.parametrize("flavor", ["UNK", "ASKU", "NASK", "NAV", "MSK"])
def test_the_kit_admits_no_null_flavor_on_the_birth_date(kit: AnsKit, flavor: str) -> None:
    """Why UNK cannot pass: the CI-SIS header rule on patient/birthTime (template 1.2.250.1.213.1.1.1.1.10.10) asks
    for @value whatever the nullFlavor, although the header admits these five nullFlavors elsewhere."""
    doc = make_doc(custodian_id=CUSTODIAN, patient_birth_date=None)
    cda = build_cda(doc, build_pdf(doc)).replace(b'nullFlavor="UNK"', f'nullFlavor="{flavor}"'.encode())
    assert kit.failures(cda) == [BIRTH_TIME_RULE]


def test_a_birth_year_alone_would_pass(kit: AnsKit) -> None:
    """A TS of reduced precision is conformant: a birth year (or year and month) is enough for the kit."""
    doc = make_doc(custodian_id=CUSTODIAN, patient_birth_date=None)
    cda = build_cda(doc, build_pdf(doc))
    for value in (b"1988", b"198804"):
        assert kit.failures(cda.replace(b'nullFlavor="UNK"', b'value="' + value + b'"')) == []


def test_the_kit_catches_what_the_issue_found(kit: AnsKit) -> None:
    """The kit is no rubber stamp: the header we produced before issue 15 fails it."""
    doc = make_doc(custodian_id=CUSTODIAN)
    cda = build_cda(doc, build_pdf(doc)).decode()
    broken = re.sub(r"<legalAuthenticator>.*?</legalAuthenticator>", "", cda)
    broken = broken.replace('<templateId root="1.3.6.1.4.1.19376.1.2.20" />', "")
    failures = kit.failures(broken.encode())
    assert any("legalAuthenticator" in failure for failure in failures)
    assert any("1.3.6.1.4.1.19376.1.2.20" in failure for failure in failures)


def test_without_a_configured_custodian_the_document_says_so_and_fails(kit: AnsKit) -> None:
    """DISPATCH_CUSTODIAN_ID is required with the SMTP backend: an unknown custodian is not conformant."""
    doc = make_doc()
    failures = kit.failures(build_cda(doc, build_pdf(doc)))
    assert failures and all("Custodian" in failure for failure in failures)


def test_a_request_opened_without_birth_date_completed_by_the_physician_sends_a_conformant_cda(
    kit: AnsKit, app: Any, make: Any, ports: Any
) -> None:
    """The operator did not know the birth date; the physician who saw the patient gave it with the outcome (carte
    Vitale in hand): the document that leaves over MSSanté passes the kit, the rule above included."""
    app.config["DISPATCH_CUSTODIAN_ID"] = CUSTODIAN
    w = opened_without_birth_date(make)
    path = f"/requests/{w['request']['id']}/outcome"
    refused = make.call("POST", path, w["cami"], json={"outcome": "seen", "synthesis": "Otite moyenne aiguë."})
    assert refused.status_code == 422 and refused.json["code"] == "birth_date_required"
    body = {"outcome": "seen", "synthesis": "Otite moyenne aiguë.", "patient_birth_date": "1988-04-02"}
    assert make.call("POST", path, w["cami"], json=body).status_code == 200
    make.deliver()
    (message,) = ports["mail"].sent
    archive = next(part for part in message.iter_attachments() if part.get_filename() == "IHE_XDM.zip")
    with zipfile.ZipFile(io.BytesIO(archive.get_content())) as xdm:
        cda = xdm.read("IHE_XDM/SUBSET01/DOC0001.XML")
    assert b'<birthTime value="19880402" />' in cda
    assert kit.failures(cda) == []
