"""The synthesis and the 'taken' notice reach the treating GP over real SMTP with TLS client certificates."""

from __future__ import annotations

import base64
import io
import logging
import re
import xml.etree.ElementTree as ET
import zipfile
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from dispatch.requests.models import Synthesis
from tests.conftest import luhn_rpps
from tests.synthesis.conftest import CUSTODIAN, NIL, SENDER, MailServer

V3 = "{urn:hl7-org:v3}"
RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
SYNTHESIS = "Otite moyenne aiguë droite ; amoxicilline 6 jours. À revoir par le médecin traitant si fièvre à J3."
OUTSIDE_GP = {"status": "declared", "rpps": luhn_rpps(990), "name": "Dr Paul Durand", "mssante": "paul.durand@medecin.mssante.fr"}


@pytest.fixture
def app(mail_app: Any) -> Any:
    """Every test here runs against the app wired to the SMTP server."""
    return mail_app


def world(make: Any, *, treating: str = "member") -> dict[str, Any]:
    """Open a request whose treating GP is a member, an outside GP, or nobody; a CAMI doctor takes it."""
    community = make.community("CPTS Val-de-Bièvre")
    operator = make.member(community, "operator")
    gp = make.member(community, "physician", name="Dr Alice Bernard")
    cami = make.member(community, "physician", name="Dr Jeanne Martin", kind="cami")
    body: dict[str, Any] = {}
    if treating == "member":
        body["treating_physician"] = {"status": "declared", "rpps": gp.rpps, "name": gp.user.name}
    elif treating == "outside":
        body["treating_physician"] = OUTSIDE_GP
    elif treating == "outside_no_address":
        body["treating_physician"] = {k: v for k, v in OUTSIDE_GP.items() if k != "mssante"}
    opened = make.open(operator, community, **body)
    return {"community": community, "operator": operator, "gp": gp, "cami": cami, "request": opened}


def take(make: Any, physician: Any, request: dict[str, Any], clock: Any) -> None:
    """Let `physician` accept the request, moving past the exclusive hour when there is one."""
    if request["state"] == "exclusive":
        clock.advance(seconds=3600)
        make.tick()
    response = make.accept(physician, request["id"])
    assert response.status_code == 200, response.json


def see(make: Any, physician: Any, request_id: int, text: str = SYNTHESIS) -> None:
    response = make.call("POST", f"/requests/{request_id}/outcome", physician, json={"outcome": "seen", "synthesis": text})
    assert response.status_code == 200, response.json


def synthesis_row(request_id: int) -> Synthesis:
    db.session.expire_all()
    row = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request_id))
    assert row is not None
    return row


def mail_rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "mail")))


def events(make: Any, who: Any, request_id: int) -> list[dict[str, Any]]:
    response = make.call("GET", f"/requests/{request_id}/events", who)
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[no-any-return]


def of_type(trail: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in trail if e["type"] == kind]


def attachments(message: EmailMessage) -> dict[str, bytes]:
    return {part.get_filename() or "": part.get_content() for part in message.iter_attachments()}


def test_synthesis_reaches_the_treating_gp_with_pdf_and_cda(
    make: Any, clock: Any, mail_server: MailServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dispatch")
    w = world(make)
    take(make, w["cami"], w["request"], clock)
    make.deliver()  # pushes and the patient's SMS: no mail, the treating GP is a member
    assert mail_server.messages == []
    clock.advance(hours=1)
    see(make, w["cami"], w["request"]["id"])
    assert synthesis_row(w["request"]["id"]).status == "pending"

    assert make.deliver() == 1
    (message,) = mail_server.messages
    assert mail_server.recipients == [[w["gp"].mssante]]
    row = synthesis_row(w["request"]["id"])
    assert row.status == "sent" and row.to_address == w["gp"].mssante

    # Headers MSSanté expects from a health software.
    assert message.get_content_type() == "multipart/mixed"
    # The GP's mailbox shows the CPTS writing (a display name), from the platform's MSSanté address.
    assert message["From"].addresses[0].addr_spec == SENDER and message["From"].addresses[0].display_name
    assert message["To"] == w["gp"].mssante
    # Unguessable (issue 23 point 3): 128 random bits, kept on the outbox row the reports are matched to.
    assert re.fullmatch(r"<[0-9a-f]{32}@cpts-test\.mssante\.fr>", message["Message-ID"])
    assert row.message_id == message["Message-ID"]
    assert message["X-MSS-NIL"] == NIL
    assert message["X-MSS-CODECDA"] == "11488-4"
    assert message["X-MSS-INS"] == "N"
    assert message["Disposition-Notification-To"] == SENDER
    assert message["Date"].datetime == row.written_at

    body = message.get_body(("plain",))
    assert body is not None
    text = " ".join(body.get_content().split())
    assert text.startswith("Bonjour Dr Alice Bernard,")
    assert "Votre patiente MARTIN Lucie (née le 02/04/1988) a été vue le lundi 23 novembre 2026" in text
    assert f"par Dr Jeanne Martin (médecin du CAMI, RPPS {w['cami'].rpps})" in text
    assert "Motif : ORL" in text and " ".join(SYNTHESIS.split()) in text

    parts = attachments(message)
    assert set(parts) == {f"compte-rendu-{w['request']['id']}.pdf", "IHE_XDM.zip"}
    pdf = parts[f"compte-rendu-{w['request']['id']}.pdf"]
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    with zipfile.ZipFile(io.BytesIO(parts["IHE_XDM.zip"])) as archive:
        assert {"IHE_XDM/SUBSET01/METADATA.XML", "IHE_XDM/SUBSET01/DOC0001.XML"} <= set(archive.namelist())
        cda = ET.fromstring(archive.read("IHE_XDM/SUBSET01/DOC0001.XML"))
        metadata = ET.fromstring(archive.read("IHE_XDM/SUBSET01/METADATA.XML"))
    assert cda.tag == f"{V3}ClinicalDocument"
    assert cda.find(f"{V3}typeId").get("extension") == "POCD_HD000040"  # type: ignore[union-attr]
    assert cda.find(f"{V3}code").get("code") == message["X-MSS-CODECDA"]  # type: ignore[union-attr]
    patient = cda.find(f"{V3}recordTarget/{V3}patientRole/{V3}patient")
    assert patient is not None
    assert (patient.findtext(f"{V3}name/{V3}family"), patient.findtext(f"{V3}name/{V3}given")) == ("MARTIN", "Lucie")
    assert patient.find(f"{V3}birthTime").get("value") == "19880402"  # type: ignore[union-attr]
    assert patient.find(f"{V3}administrativeGenderCode").get("code") == "F"  # type: ignore[union-attr]
    author = cda.find(f"{V3}author/{V3}assignedAuthor/{V3}id")
    assert author is not None and author.get("extension") == f"8{w['cami'].rpps}"
    custodian = f"{V3}custodian/{V3}assignedCustodian/{V3}representedCustodianOrganization/{V3}name"
    assert cda.findtext(custodian) == "CPTS Val-de-Bièvre"
    custodian_id = cda.find(f"{V3}custodian/{V3}assignedCustodian/{V3}representedCustodianOrganization/{V3}id")
    assert custodian_id is not None and custodian_id.attrib == {"root": "1.2.250.1.71.4.2.2", "extension": CUSTODIAN}
    embedded = cda.find(f"{V3}component/{V3}nonXMLBody/{V3}text")
    assert embedded is not None and embedded.get("mediaType") == "application/pdf"
    assert base64.b64decode(embedded.text or "") == pdf
    assert metadata.find(f"{RIM}RegistryObjectList/{RIM}ExtrinsicObject") is not None

    trail = events(make, w["operator"], w["request"]["id"])
    (sent,) = of_type(trail, "synthesis_sent")
    assert sent["data"]["to"] == w["gp"].mssante and sent["data"]["attempts"] == 1
    assert of_type(trail, "taken_sent") == []  # a member GP saw the offer on the platform

    assert make.deliver() == 0  # accepted by the server: never sent again
    clock.advance(days=1)
    assert make.deliver() == 0 and len(mail_server.messages) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("dispatch"))
    assert "smtp send" in logged  # the adapter did log ...
    assert "Lucie" not in logged and "1988" not in logged  # ... but never the patient


def test_outside_gp_is_told_who_took_their_patient_then_gets_the_synthesis(make: Any, clock: Any, mail_server: MailServer) -> None:
    w = world(make, treating="outside")
    assert w["request"]["state"] == "community"  # no exclusive hour for a GP off the platform
    take(make, w["cami"], w["request"], clock)
    make.deliver()
    (taken,) = mail_server.messages
    assert mail_server.recipients == [[OUTSIDE_GP["mssante"]]]
    assert taken.get_content_type() == "text/plain"
    assert re.fullmatch(r"<[0-9a-f]{32}@cpts-test\.mssante\.fr>", taken["Message-ID"])
    assert taken["X-MSS-NIL"] == NIL
    assert taken["X-MSS-CODECDA"] is None and taken["X-MSS-INS"] is None  # no CDA attached
    text = " ".join(taken.get_content().split())
    assert text.startswith("Bonjour Dr Paul Durand,")
    assert "Votre patiente MARTIN Lucie (née le 02/04/1988) a appelé le lundi 23 novembre 2026 à 15:00" in text
    assert (
        f"elle a été prise en charge par Dr Jeanne Martin (médecin du CAMI, RPPS {w['cami'].rpps}) "
        "le lundi 23 novembre 2026 à 15:00"
    ) in text
    assert w["cami"].address in text
    trail = events(make, w["operator"], w["request"]["id"])
    assert [e["data"]["to"] for e in of_type(trail, "taken_sent")] == [OUTSIDE_GP["mssante"]]

    see(make, w["cami"], w["request"]["id"])
    make.deliver()
    assert len(mail_server.messages) == 2
    assert mail_server.messages[1]["To"] == OUTSIDE_GP["mssante"]
    assert synthesis_row(w["request"]["id"]).status == "sent"


@pytest.mark.parametrize("smtp_overrides", ["rogue"], indirect=True)
def test_refused_client_certificate_fails_the_delivery_with_its_reason(make: Any, clock: Any, mail_server: MailServer) -> None:
    w = world(make)
    take(make, w["cami"], w["request"], clock)
    see(make, w["cami"], w["request"]["id"])
    make.deliver()
    assert mail_server.messages == []
    row = synthesis_row(w["request"]["id"])
    assert row.status == "failed"
    (outbox,) = mail_rows()
    assert outbox.status == "failed" and outbox.attempts == 1  # retrying cannot fix a certificate
    assert (outbox.last_error or "").startswith("certificate refused:")
    (failed,) = of_type(events(make, w["operator"], w["request"]["id"]), "synthesis_failed")
    assert failed["data"]["error"].startswith("certificate refused:")
    assert "Lucie" not in failed["data"]["error"]
    clock.advance(hours=1)
    assert make.deliver() == 0


def test_outage_is_retried_with_backoff_until_the_server_is_back(make: Any, clock: Any, mail_server: MailServer) -> None:
    w = world(make)
    take(make, w["cami"], w["request"], clock)
    make.deliver()
    mail_server.stop()
    see(make, w["cami"], w["request"]["id"])
    for attempt in (1, 2, 3):
        assert make.deliver() == 1
        (outbox,) = mail_rows()
        assert (outbox.status, outbox.attempts) == ("pending", attempt)
        assert (outbox.last_error or "").startswith("network error:")
        assert synthesis_row(w["request"]["id"]).status == "pending"
        # Backoff: 2**attempt seconds, with jitter between half and all of it.
        clock.advance(seconds=2**attempt / 2 - 0.01)
        assert make.deliver() == 0
        clock.advance(seconds=2**attempt / 2 + 0.01)
    mail_server.start()
    assert make.deliver() == 1
    assert len(mail_server.messages) == 1
    assert synthesis_row(w["request"]["id"]).status == "sent"
    (outbox,) = mail_rows()
    assert (outbox.status, outbox.attempts) == ("sent", 4)
    assert outbox.provider_id == str(mail_server.messages[0]["Message-ID"])
    trail = events(make, w["operator"], w["request"]["id"])
    assert [e["data"]["attempts"] for e in of_type(trail, "synthesis_sent")] == [4]
    assert of_type(trail, "synthesis_failed") == []
    clock.advance(minutes=30)
    assert make.deliver() == 0 and len(mail_server.messages) == 1


def test_outage_longer_than_the_attempts_marks_it_failed(make: Any, app: Any, clock: Any, mail_server: MailServer) -> None:
    app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    w = world(make)
    take(make, w["cami"], w["request"], clock)
    make.deliver()
    mail_server.stop()
    see(make, w["cami"], w["request"]["id"])
    for _ in range(3):
        assert make.deliver() == 1
        clock.advance(minutes=5)  # past the longest backoff
    assert make.deliver() == 0
    assert synthesis_row(w["request"]["id"]).status == "failed"
    (failed,) = of_type(events(make, w["operator"], w["request"]["id"]), "synthesis_failed")
    assert failed["data"]["attempts"] == 3 and failed["data"]["error"].startswith("network error:")
    mail_server.start()
    clock.advance(hours=1)
    assert make.deliver() == 0 and mail_server.messages == []  # given up: staff see it in the trail ...
    coordinator = make.member(w["community"], "coordinator")
    report = make.call("GET", f"/communities/{w['community'].id}/report?from=2026-11-01&to=2026-11-30", coordinator)
    assert report.status_code == 200, report.json
    assert (report.json["syntheses"]["failed"], report.json["syntheses"]["sent"]) == (1, 0)  # ... and the report


def test_treating_gp_seeing_their_own_patient_sends_nothing(make: Any, clock: Any, mail_server: MailServer) -> None:
    w = world(make)
    assert w["request"]["state"] == "exclusive"
    response = make.accept(w["gp"], w["request"]["id"])
    assert response.status_code == 200, response.json
    see(make, w["gp"], w["request"]["id"])
    make.deliver()
    assert synthesis_row(w["request"]["id"]).status == "not_needed"
    assert mail_rows() == [] and mail_server.messages == []


@pytest.mark.parametrize("treating", ["none", "outside_no_address"])
def test_no_address_keeps_the_synthesis_as_not_sendable(make: Any, clock: Any, mail_server: MailServer, treating: str) -> None:
    w = world(make, treating=treating)
    take(make, w["cami"], w["request"], clock)
    see(make, w["cami"], w["request"]["id"])
    make.deliver()
    row = synthesis_row(w["request"]["id"])
    assert (row.status, row.to_address, row.text) == ("not_sendable", None, SYNTHESIS)
    assert mail_rows() == [] and mail_server.messages == []
    (written,) = of_type(events(make, w["operator"], w["request"]["id"]), "synthesis_written")
    assert written["data"] == {"status": "not_sendable"}
