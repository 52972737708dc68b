"""SmtpMailer against a real aiosmtpd server on loopback, with TLS client certificates."""

from __future__ import annotations

import contextlib
import email
import email.policy
import io
import socket
import ssl
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from dispatch.notify.ports import Outcome
from dispatch.notify.smtp import SmtpMailer
from dispatch.synthesis.document import SynthesisDoc
from dispatch.synthesis.messages import build_synthesis_message
from tests.notify.certs import Pki, make_pki

HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@dataclass
class Recorder:
    """aiosmtpd handler storing envelopes, or answering RCPT/DATA with a fixed reply."""

    rcpt_reply: str | None = None
    data_reply: str | None = None
    envelopes: list[Any] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """Controller whose readiness probe presents a valid client certificate."""

    def __init__(self, *args: Any, probe: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.probe = probe

    def _trigger_server(self) -> None:
        with socket.create_connection((HOST, self.port), 1.0) as raw:
            if self.ssl_context:
                with self.probe.wrap_socket(raw, server_hostname=HOST) as tls:
                    tls.recv(1024)
            else:
                raw.recv(1024)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(pki: Pki, handler: Recorder, *, mode: str = "tls", port: int | None = None) -> Iterator[int]:
    port = port or free_port()
    context = pki.server_context()
    options: dict[str, Any] = {"ssl_context": context} if mode == "tls" else {"tls_context": context, "require_starttls": True}
    controller = _Controller(handler, hostname=HOST, port=port, probe=pki.client_context(), server_hostname="localhost", **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def mailer(pki: Pki, port: int, *, mode: str = "tls", cert: Path | None = None, key: Path | None = None) -> SmtpMailer:
    return SmtpMailer(
        HOST,
        port,
        mode,
        cert=str(cert) if cert else None,  # type: ignore[arg-type]
        key=str(key) if key else None,
        ca=str(pki.ca_cert),
        timeout=2.0,
    )


def good(pki: Pki, port: int, mode: str = "tls") -> SmtpMailer:
    return mailer(pki, port, mode=mode, cert=pki.client_cert, key=pki.client_key)


def synthesis() -> EmailMessage:
    doc = SynthesisDoc(
        synthesis_id=7,
        request_id=42,
        community_name="CPTS Val-de-Bièvre",
        written_at=datetime(2026, 11, 23, 17, 0, tzinfo=UTC),
        appointment_at=datetime(2026, 11, 23, 15, 30, tzinfo=UTC),
        place="Cabinet du Dr Martin",
        motive="urinary",
        patient_last_name="Lefèvre",
        patient_first_name="Zoé",
        patient_birth_date=date(1980, 3, 12),
        patient_sex="F",
        physician_name="Jeanne Martin",
        physician_rpps="10003456789",
        physician_kind="remplacant",
        treating_name="Paul Durand",
        treating_address="paul.durand@medecin.mssante.fr",
        text="Cystite simple ; ECBU prescrit. À revoir par le médecin traitant.",
    )
    return build_synthesis_message(doc, sender="snp@cpts-vdb.mssante.fr", nil="NIL-7", ident="<synthesis-7@cpts-vdb.mssante.fr>")


@pytest.mark.parametrize("mode", ["tls", "starttls"])
def test_message_is_delivered_and_parses_back(pki: Pki, mode: str) -> None:
    handler = Recorder()
    message = synthesis()
    with serving(pki, handler, mode=mode) as port:
        result = good(pki, port, mode).send(message)
    assert result.outcome is Outcome.SENT, result.detail
    assert result.provider_id == "<synthesis-7@cpts-vdb.mssante.fr>"
    (envelope,) = handler.envelopes
    assert envelope.mail_from == "snp@cpts-vdb.mssante.fr"
    assert envelope.rcpt_tos == ["paul.durand@medecin.mssante.fr"]
    received = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert received["Message-ID"] == "<synthesis-7@cpts-vdb.mssante.fr>"
    assert received["X-MSS-INS"] == "N"
    assert received["Subject"] == "Synthèse de consultation – LEFÈVRE Zoé – demande n° 42"
    body = received.get_body(("plain",))
    assert body is not None and "Cystite simple" in body.get_content()
    parts = {part.get_filename(): part.get_content() for part in received.iter_attachments()}
    assert parts["compte-rendu-42.pdf"].startswith(b"%PDF")
    with zipfile.ZipFile(io.BytesIO(parts["IHE_XDM.zip"])) as archive:
        assert b"11488-4" in archive.read("IHE_XDM/SUBSET01/DOC0001.XML")


@pytest.mark.parametrize("mode", ["tls", "starttls"])
def test_rogue_client_certificate_is_permanent(pki: Pki, mode: str) -> None:
    handler = Recorder()
    with serving(pki, handler, mode=mode) as port:
        result = mailer(pki, port, mode=mode, cert=pki.rogue_client_cert, key=pki.rogue_client_key).send(synthesis())
    assert result.outcome is Outcome.PERMANENT
    assert result.detail.startswith("certificate refused:"), result.detail
    assert "Cystite" not in result.detail
    assert handler.envelopes == []


@pytest.mark.parametrize("mode", ["tls", "starttls"])
def test_missing_client_certificate_is_permanent(pki: Pki, mode: str) -> None:
    handler = Recorder()
    with serving(pki, handler, mode=mode) as port:
        result = mailer(pki, port, mode=mode).send(synthesis())
    assert result.outcome is Outcome.PERMANENT
    assert result.detail.startswith("certificate refused:"), result.detail
    assert handler.envelopes == []


def test_untrusted_server_certificate_is_permanent(pki: Pki) -> None:
    with serving(pki, Recorder()) as port:
        result = SmtpMailer(
            HOST, port, "tls", cert=str(pki.client_cert), key=str(pki.client_key), ca=str(pki.rogue_ca_cert), timeout=2.0
        ).send(synthesis())
    assert result.outcome is Outcome.PERMANENT
    assert result.detail.startswith("server certificate rejected:"), result.detail


def test_server_down_is_transient(pki: Pki) -> None:
    result = good(pki, free_port()).send(synthesis())
    assert result.outcome is Outcome.TRANSIENT
    assert result.provider_id == "<synthesis-7@cpts-vdb.mssante.fr>"


@pytest.mark.parametrize(
    ("handler", "outcome"),
    [
        (Recorder(data_reply="451 4.3.0 Try again later"), Outcome.TRANSIENT),
        (Recorder(rcpt_reply="451 4.7.1 Greylisted"), Outcome.TRANSIENT),
        (Recorder(rcpt_reply="550 5.1.1 No such mailbox"), Outcome.PERMANENT),
        (Recorder(data_reply="554 5.6.0 Rejected"), Outcome.PERMANENT),
    ],
    ids=["data-451", "rcpt-451", "rcpt-550", "data-554"],
)
def test_smtp_replies_are_classified(pki: Pki, handler: Recorder, outcome: Outcome) -> None:
    with serving(pki, handler) as port:
        result = good(pki, port).send(synthesis())
    assert result.outcome is outcome
    reply = handler.rcpt_reply or handler.data_reply or ""
    assert reply.split()[0] in result.detail
    assert "Cystite" not in result.detail


def test_outage_then_recovery(pki: Pki) -> None:
    port = free_port()
    sender = good(pki, port)
    assert sender.send(synthesis()).outcome is Outcome.TRANSIENT
    handler = Recorder()
    with serving(pki, handler, port=port):
        assert sender.send(synthesis()).outcome is Outcome.SENT
    assert len(handler.envelopes) == 1


def test_from_config_requires_a_host() -> None:
    with pytest.raises(ValueError, match="DISPATCH_SMTP_HOST"):
        SmtpMailer.from_config({"DISPATCH_SMTP_PORT": "465"})


def test_from_config_reads_the_keys(pki: Pki) -> None:
    sender = SmtpMailer.from_config(
        {
            "DISPATCH_SMTP_HOST": "smtp.example.mssante.fr",
            "DISPATCH_SMTP_SECURITY": "starttls",
            "DISPATCH_SMTP_CERT": str(pki.client_cert),
            "DISPATCH_SMTP_KEY": str(pki.client_key),
            "DISPATCH_SMTP_CA": str(pki.ca_cert),
        }
    )
    assert (sender.host, sender.port, sender.security) == ("smtp.example.mssante.fr", 587, "starttls")
    assert sender.context.minimum_version is ssl.TLSVersion.TLSv1_2
    with pytest.raises(ValueError, match="DISPATCH_SMTP_SECURITY"):
        SmtpMailer.from_config({"DISPATCH_SMTP_HOST": "h", "DISPATCH_SMTP_SECURITY": "ssl"})


@pytest.mark.parametrize("tls_max", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_alert_on_refused_certificate_is_permanent(pki: Pki, tls_max: ssl.TLSVersion) -> None:
    # A blocking OpenSSL server sends the alert that aiosmtpd's asyncio transport drops.
    context = pki.server_context()
    context.maximum_version = tls_max
    with socket.create_server((HOST, 0)) as listener:
        port = listener.getsockname()[1]

        def refuse_once() -> None:
            conn, _ = listener.accept()
            with conn, contextlib.suppress(ssl.SSLError, OSError):
                context.wrap_socket(conn, server_side=True).close()

        thread = threading.Thread(target=refuse_once)
        thread.start()
        try:
            result = mailer(pki, port, cert=pki.rogue_client_cert, key=pki.rogue_client_key).send(synthesis())
        finally:
            thread.join(2.0)
    assert result.outcome is Outcome.PERMANENT
    assert result.detail.startswith("certificate refused:"), result.detail
    assert "ALERT" in result.detail.upper()
