"""Fixtures for end-to-end delivery: a TLS SMTP server on loopback and the app wired to it."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from dispatch import create_app
from dispatch.notify.inbox import Recorder
from dispatch.notify.smtp import SmtpMailer
from tests.conftest import TEST_SETTINGS, FakeClock, real_ports, serving
from tests.notify.certs import Pki, make_pki
from tests.peers.guard import forbid_outbound

HOST = "127.0.0.1"
SENDER = "snp-dispatch@cpts-test.mssante.fr"
NIL = "NIL-TEST-0042"
CUSTODIAN = "312345678900011"  # "3" + a SIRET


class _Handler:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 -- aiosmtpd hook
        self.envelopes.append(envelope)
        return "250 2.0.0 Message accepted for delivery"


class _Controller(Controller):
    """Controller whose readiness probe presents a client certificate the server accepts."""

    def __init__(self, *args: Any, probe: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.probe = probe

    def _trigger_server(self) -> None:
        with socket.create_connection((HOST, self.port), 1.0) as raw, self.probe.wrap_socket(raw, server_hostname=HOST) as tls:
            tls.recv(1024)


class MailServer:
    """An MSSanté operator stand-in: implicit TLS, our client certificate required and verified."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            self.port = int(sock.getsockname()[1])
        self.handler = _Handler()
        self.controller: _Controller | None = None

    def start(self) -> None:
        """Listen on the same port as before, keeping what was already received."""
        self.controller = _Controller(
            self.handler,
            hostname=HOST,
            port=self.port,
            ssl_context=self.pki.server_context(),
            probe=self.pki.client_context(),
            server_hostname="localhost",
        )
        self.controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until start()."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        """Return the messages received, parsed back with the email package."""
        parsed = [email.message_from_bytes(e.original_content, policy=email.policy.default) for e in self.handler.envelopes]
        assert all(isinstance(m, EmailMessage) for m in parsed)
        return parsed  # type: ignore[return-value]

    @property
    def recipients(self) -> list[list[str]]:
        """Return the envelope recipients of each message received."""
        return [list(e.rcpt_tos) for e in self.handler.envelopes]


class RelayServer:
    """The ordinary relay's stand-in (DISPATCH_MAIL_SMTP_*): plain SMTP on loopback, keeping what it accepts."""

    def __init__(self) -> None:
        self.handler = _Handler()
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            self.port = int(sock.getsockname()[1])
        self.controller = Controller(self.handler, hostname=HOST, port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        """Return the messages received, parsed back with the email package."""
        return [
            email.message_from_bytes(e.original_content, policy=email.policy.default)  # type: ignore[misc]
            for e in self.handler.envelopes
        ]


@pytest.fixture
def relay_server() -> Iterator[RelayServer]:
    server = RelayServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    # The platform's certificate names its MSSanté mailbox, as an operator issues it: SMTP and IMAP present it.
    return make_pki(tmp_path_factory.mktemp("mss-pki"), client_name=SENDER)


@pytest.fixture
def mail_server(pki: Pki) -> Iterator[MailServer]:
    server = MailServer(pki)
    server.start()
    yield server
    server.stop()


def smtp_settings(pki: Pki, port: int, *, cert: Path | None = None, key: Path | None = None, relay_port: int = 9) -> dict[str, Any]:
    """Return the DISPATCH_SMTP_* settings of a platform presenting `cert` (ours by default), and its ordinary relay
    (DISPATCH_MAIL_SMTP_*) on `relay_port` (by default a port where nothing listens)."""
    return {
        "DISPATCH_MAIL_SMTP_HOST": HOST,
        "DISPATCH_MAIL_SMTP_PORT": str(relay_port),
        "DISPATCH_MAIL_SMTP_SECURITY": "none",
        "DISPATCH_MAIL_SMTP_FROM": "ne-pas-repondre@snp-test.fr",
        "DISPATCH_MAIL_BACKEND": "smtp",
        "DISPATCH_SMTP_HOST": HOST,
        "DISPATCH_SMTP_PORT": str(port),
        "DISPATCH_SMTP_SECURITY": "tls",
        "DISPATCH_SMTP_CERT": str(cert or pki.client_cert),
        "DISPATCH_SMTP_KEY": str(key or pki.client_key),
        "DISPATCH_SMTP_CA": str(pki.ca_cert),
        "DISPATCH_SMTP_FROM": SENDER,
        "DISPATCH_MSSANTE_NIL": NIL,
        "DISPATCH_CUSTODIAN_ID": CUSTODIAN,
        "DISPATCH_SMTP_TIMEOUT": 3.0,
    }


@pytest.fixture
def smtp_overrides(pki: Pki, mail_server: MailServer, relay_server: RelayServer, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The SMTP settings of the app; parametrize indirectly with "rogue" to present a refused certificate."""
    if getattr(request, "param", None) == "rogue":
        return smtp_settings(
            pki, mail_server.port, cert=pki.rogue_client_cert, key=pki.rogue_client_key, relay_port=relay_server.port
        )
    return smtp_settings(pki, mail_server.port, relay_port=relay_server.port)


@pytest.fixture
def mail_app(database_url: str, clock: FakeClock, smtp_overrides: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The application built by its factory with DISPATCH_MAIL_BACKEND=smtp; push and SMS are recorded."""
    forbid_outbound(monkeypatch)
    settings = {**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url, **smtp_overrides}
    ports = real_ports(settings, clock, push=Recorder(), sms=Recorder())
    assert isinstance(ports.mail, SmtpMailer)  # the wiring chose the real adapter
    application = create_app(settings, clock=clock, ports=ports)
    with serving(application):
        yield application
