"""One identity per community (issue 25, points 4 and 5): a request of community A and one of community B, over real
SMTP with TLS client certificates. Each secure message leaves from its community's MSSanté mailbox, presents that
mailbox's certificate, names the community's IdNatStruct as the CDA's custodian and the XDM's author institution;
the SMS are signed with the community's sender; a community without values speaks with the installation's. Mail
that concerns no patient (an invitation) goes through the ordinary relay, never the MSSanté server."""

from __future__ import annotations

import email
import email.policy
import io
import shutil
import socket
import ssl
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from dispatch.auth.accounts import start_invitation
from dispatch.db import db
from dispatch.notify.ports import SmsMessage
from tests.notify.certs import Pki, make_pki
from tests.synthesis.ans_kit.kit import AnsKit
from tests.synthesis.conftest import CUSTODIAN, HOST, SENDER, RelayServer, smtp_settings
from tests.synthesis.test_delivery import see, take

V3 = "{urn:hl7-org:v3}"
RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
A_FROM = "cpts-bievre@cpts-bievre.mssante.fr"
A_CUSTODIAN = "1750000123"  # "1" + a FINESS
A_SENDER = "CPTSBIEVRE"
INSTALLATION_SMS = "SNPDISPATCH"


class _Seen:
    """aiosmtpd handler keeping each message with the common name of the client certificate it came under."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 -- aiosmtpd hook
        peer = server.transport.get_extra_info("peercert") or {}
        names = [value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"]
        self.received.append((envelope.original_content, names[0] if names else ""))
        return "250 2.0.0 Message accepted for delivery"


class _Controller(Controller):
    def __init__(self, *args: Any, probe: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.probe = probe

    def _trigger_server(self) -> None:
        with socket.create_connection((HOST, self.port), 1.0) as raw, self.probe.wrap_socket(raw, server_hostname=HOST) as tls:
            tls.recv(1024)


class OperatorServer:
    """The MSSanté operator: implicit TLS, a client certificate required, of the installation or of community A."""

    def __init__(self, pki: Pki, community_pki: Pki) -> None:
        context = pki.server_context()
        context.load_verify_locations(cafile=str(community_pki.ca_cert))  # the operator issued both certificates
        self.handler = _Seen()
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            self.port = int(sock.getsockname()[1])
        self.controller = _Controller(
            self.handler,
            hostname=HOST,
            port=self.port,
            ssl_context=context,
            probe=pki.client_context(),
            server_hostname="localhost",
        )

    def messages(self) -> list[tuple[EmailMessage, str]]:
        out = []
        for raw, name in self.handler.received:
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            out.append((parsed, name))
        return out


@pytest.fixture(scope="module")
def community_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("cpts-a-pki"), client_name=A_FROM)


@pytest.fixture
def certs_dir(tmp_path: Path, community_pki: Pki) -> Path:
    folder = tmp_path / "mssante-certs"
    folder.mkdir()
    shutil.copyfile(community_pki.client_cert, folder / f"{A_FROM}.crt")
    shutil.copyfile(community_pki.client_key, folder / f"{A_FROM}.key")
    return folder


@pytest.fixture
def operator(pki: Pki, community_pki: Pki) -> Iterator[OperatorServer]:
    server = OperatorServer(pki, community_pki)
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def smtp_overrides(pki: Pki, operator: OperatorServer, relay_server: RelayServer, certs_dir: Path) -> dict[str, Any]:
    return {
        **smtp_settings(pki, operator.port, relay_port=relay_server.port),
        "DISPATCH_MSSANTE_CERTS_DIR": str(certs_dir),
        "DISPATCH_SMS_FROM": INSTALLATION_SMS,
    }


@pytest.fixture
def app(mail_app: Any) -> Any:
    return mail_app


def synthesis_of(make: Any, clock: Any, name: str, **identity: str) -> dict[str, Any]:
    """Open a request in a new community (with `identity`), let a CAMI doctor take it and write the synthesis."""
    community = make.community(name)
    for key, value in identity.items():
        setattr(community, key, value)
    db.session.commit()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    cami = make.member(community, "physician", kind="cami")
    opened = make.open(operator, community, treating_physician={"status": "declared", "rpps": gp.rpps, "name": gp.user.name})
    take(make, cami, opened, clock)
    clock.advance(hours=1)
    see(make, cami, opened["id"])
    return opened


def documents(message: EmailMessage) -> tuple[ET.Element, ET.Element, bytes]:
    archive = next(part for part in message.iter_attachments() if part.get_filename() == "IHE_XDM.zip")
    with zipfile.ZipFile(io.BytesIO(archive.get_content())) as xdm:
        cda = xdm.read("IHE_XDM/SUBSET01/DOC0001.XML")
        metadata = ET.fromstring(xdm.read("IHE_XDM/SUBSET01/METADATA.XML"))
    return ET.fromstring(cda), metadata, cda


def custodian_of(cda: ET.Element) -> str | None:
    found = cda.find(f"{V3}custodian/{V3}assignedCustodian/{V3}representedCustodianOrganization/{V3}id")
    return found.get("extension") if found is not None else None


def institutions_of(metadata: ET.Element) -> list[str]:
    return [
        value.text or ""
        for slot in metadata.iter(f"{RIM}Slot")
        if slot.get("name") == "authorInstitution"
        for value in slot.iter(f"{RIM}Value")
    ]


def test_each_request_speaks_with_its_communitys_identity(
    make: Any, app: Any, clock: Any, operator: OperatorServer, relay_server: RelayServer, tmp_path: Path
) -> None:
    a = synthesis_of(make, clock, "CPTS Bièvre", custodian_id=A_CUSTODIAN, mssante_from=A_FROM, sms_sender=A_SENDER)
    b = synthesis_of(make, clock, "CPTS Sans Identité")
    make.deliver()

    sent = {message["From"].addresses[0].addr_spec: (message, cert) for message, cert in operator.messages()}
    assert set(sent) == {A_FROM, SENDER}
    message_a, cert_a = sent[A_FROM]
    message_b, cert_b = sent[SENDER]
    assert (cert_a, cert_b) == (A_FROM, SENDER)  # each under its own mailbox's certificate
    assert message_a["Disposition-Notification-To"] == A_FROM and message_a["Message-ID"].endswith("@cpts-bievre.mssante.fr>")
    cda_a, metadata_a, raw_a = documents(message_a)
    cda_b, metadata_b, _ = documents(message_b)
    assert (custodian_of(cda_a), custodian_of(cda_b)) == (A_CUSTODIAN, CUSTODIAN)
    assert set(institutions_of(metadata_a)) == {f"CPTS Bièvre^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^{A_CUSTODIAN}"}
    assert set(institutions_of(metadata_b)) == {f"CPTS Sans Identité^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^{CUSTODIAN}"}
    (tmp_path / "kit").mkdir()
    assert AnsKit(tmp_path / "kit").failures(raw_a) == []  # the ANS kit accepts a community's custodian

    # The patients' SMS: signed with the community's sender, else the installation's.
    texts = app.extensions["dispatch"].ports.sms.sent
    assert all(isinstance(text, SmsMessage) for text in texts)
    assert {text.sender for text in texts} == {A_SENDER, None}  # None: the adapter's own, DISPATCH_SMS_FROM
    assert a["id"] != b["id"] and relay_server.messages == []


def test_an_invitation_goes_to_the_ordinary_relay_never_to_mssante(
    make: Any, clock: Any, operator: OperatorServer, relay_server: RelayServer
) -> None:
    community = make.community("CPTS Bièvre")
    community.mssante_from = A_FROM
    member = make.member(community, "operator")
    member.email = "lea.durand@example.fr"
    start_invitation(
        user=member, by=None, community=community.name, now=clock.now(), public_url="https://snp.example.fr", channel="mail"
    )
    db.session.commit()

    assert make.deliver() == 1
    assert operator.messages() == []
    (mail,) = relay_server.messages
    assert mail["To"] == "lea.durand@example.fr" and mail["From"] == "ne-pas-repondre@snp-test.fr"
    assert "X-MSS-NIL" not in mail and "/definir-mot-de-passe/" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
