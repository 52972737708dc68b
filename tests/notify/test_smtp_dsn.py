"""The SMTP adapter asks a server that offers DSN (RFC 3461) for delivery reports, returning headers only.

The receipts poller reads those reports from the platform's mailbox; RET=HDRS keeps a bounce from carrying the
synthesis back, and ENVID names the message even when a report returns no headers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from dispatch.notify.ports import Outcome
from dispatch.notify.smtp import SmtpMailer, dsn_options

HOST = "127.0.0.1"
DSN_PARAMS = ("RET", "ENVID", "NOTIFY", "ORCPT")


class Handler:
    """Keeps each message, and the DSN parameters of each MAIL and RCPT command; offers DSN when told to."""

    def __init__(self, *, offers_dsn: bool) -> None:
        self.offers_dsn = offers_dsn
        self.params: list[dict[str, str]] = []
        self.envelopes: list[Any] = []

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:  # noqa: N802
        session.host_name = hostname
        if self.offers_dsn:
            responses.insert(-1, "250-DSN")
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 2.0.0 OK"


class DsnSMTP(SMTP):
    """aiosmtpd taking the DSN parameters (it knows none): it records them, then reads the rest as usual."""

    def _getparams(self, params: Sequence[str]) -> dict[str, str | bool] | None:
        dsn = {name: value for name, _, value in (p.partition("=") for p in params) if name in DSN_PARAMS}
        self.event_handler.params.append(dsn)
        return super()._getparams([p for p in params if p.partition("=")[0] not in DSN_PARAMS])


class DsnController(Controller):
    def factory(self) -> SMTP:
        return DsnSMTP(self.handler, **self.SMTP_kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=[True, False], ids=["offers DSN", "no DSN"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Handler, int]]:
    handler, port = Handler(offers_dsn=request.param), _free_port()
    controller = DsnController(handler, hostname=HOST, port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "snp-dispatch@cpts-test.mssante.fr"
    mail["To"] = "paul.durand@medecin.mssante.fr"
    mail["Subject"] = "Synthèse"
    mail["Message-ID"] = "<synthesis-12@cpts-test.mssante.fr>"
    mail.set_content("Texte.")
    return mail


def test_reports_are_asked_for_only_where_the_server_offers_them(server: tuple[Handler, int]) -> None:
    handler, port = server
    result = SmtpMailer(HOST, port, "none", timeout=5).send(message())
    assert result.outcome is Outcome.SENT and len(handler.envelopes) == 1
    mail_params, rcpt_params = handler.params
    if handler.offers_dsn:
        # aiosmtpd reads parameters upper-cased: the id is compared so.
        assert mail_params == {"RET": "HDRS", "ENVID": "<SYNTHESIS-12@CPTS-TEST.MSSANTE.FR>"}
        assert rcpt_params == {"NOTIFY": "SUCCESS,FAILURE"}
    else:
        assert mail_params == {} and rcpt_params == {}


def test_the_envelope_id_is_xtext_and_bounded() -> None:
    mail = message()
    del mail["Message-ID"]
    mail["Message-ID"] = "<a+b=c@x.fr>"
    assert dsn_options(mail) == (("RET=HDRS", "ENVID=<a+2Bb+3Dc@x.fr>"), ("NOTIFY=SUCCESS,FAILURE",))
    del mail["Message-ID"]
    mail["Message-ID"] = "<" + "x" * 120 + "@x.fr>"
    assert dsn_options(mail)[0] == ("RET=HDRS",)  # longer than RFC 3461's 100 characters: no ENVID
