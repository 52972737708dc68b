"""The mailbox adapter against a real Dovecot (tests/peers/dovecot.py): TLS with the client certificate, SASL
EXTERNAL or LOGIN, mails listed and read without being marked, then marked; settings through the real loader."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import settings
from dispatch.notify.imap import ImapMailbox, MailboxError, folder_name
from dispatch.wiring import ConfigurationError, build_ports, check_settings
from tests.conftest import FakeClock
from tests.notify.certs import Pki, make_pki
from tests.peers.dovecot import PASSWORD, DovecotPeer, require_dovecot

LOGIN = "snp-dispatch@cpts-test.mssante.fr"
REPORT = (
    b"From: MAILER-DAEMON@operateur.mssante.example\r\nTo: snp-dispatch@cpts-test.mssante.fr\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b\r\n'
    b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; a@b.fr\r\n"
    b"Action: delivered\r\nStatus: 2.0.0\r\n\r\n--b--\r\n"
)
REPLY = b"From: a@b.fr\r\nTo: snp-dispatch@cpts-test.mssante.fr\r\nSubject: Re: votre message\r\n\r\nMerci.\r\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("imap-pki"), client_name=LOGIN)


@pytest.fixture(scope="module")
def dovecot(pki: Pki) -> Iterator[DovecotPeer]:
    require_dovecot()
    with DovecotPeer(pki, login=LOGIN) as peer:
        yield peer


@pytest.fixture
def peer(dovecot: DovecotPeer) -> DovecotPeer:
    dovecot.empty()
    return dovecot


def mailbox(peer: DovecotPeer, **changes: str) -> ImapMailbox:
    box = ImapMailbox.from_config(peer.settings(**changes))
    assert box is not None
    return box


@pytest.mark.parametrize(
    "credentials", [{}, {"DISPATCH_IMAP_USER": LOGIN, "DISPATCH_IMAP_PASSWORD": PASSWORD}], ids=["EXTERNAL", "LOGIN"]
)
def test_mails_are_listed_and_read_without_being_marked_until_told(peer: DovecotPeer, credentials: dict[str, str]) -> None:
    peer.deliver(REPORT)
    peer.deliver(REPLY)
    with mailbox(peer, **credentials).open() as box:
        unseen = box.unseen()
        assert [m.content_type.split(";")[0] for m in unseen] == ["multipart/report", ""]
        report, reply = (m.uid for m in unseen)
        assert int(report) < int(reply)  # oldest first
        assert unseen[0].size > len(REPORT) - 10  # the size the server holds (it adds its own headers)
        fetched = box.fetch([report, reply], 1 << 20)
        assert fetched[report].endswith(REPORT.split(b"\r\n\r\n", 1)[1]) and b"Merci." in fetched[reply]
        assert box.validity.isdigit()
    assert all("\\Seen" not in flags for flags in peer.flags().values())  # reading marked nothing
    with mailbox(peer, **credentials).open() as box:
        box.mark_seen([report])
        assert [m.uid for m in box.unseen()] == [reply]
    flags = peer.flags()
    assert "\\Seen" in flags[int(report)] and "\\Seen" not in flags[int(reply)]


def test_a_mail_is_read_no_further_than_asked_and_a_listing_starts_where_told(peer: DovecotPeer) -> None:
    """Issue 23 point 11: a large mail is never fetched whole; a poll asks only for the UIDs after a given one."""
    big = REPLY + (b"A" * 76 + b"\r\n") * 8000  # about 600 kB
    peer.deliver(REPORT)
    peer.deliver(big)
    peer.deliver(REPLY)
    with mailbox(peer).open() as box:
        uids = [m.uid for m in box.unseen()]
        fetched = box.fetch(uids, 4096)
        assert len(fetched[uids[1]]) == 4096 and b"Merci." in fetched[uids[1]]
        assert len(fetched[uids[0]]) <= 4096 and len(fetched[uids[2]]) < 4096  # a small one comes whole
        assert [m.uid for m in box.unseen(since=int(uids[1]))] == uids[1:]
        assert box.unseen(since=int(uids[2]) + 1) == []  # "n:*" names the last UID even below n: not listed


def test_a_folder_with_accents_is_named_in_modified_utf7(peer: DovecotPeer) -> None:
    assert folder_name("Accusés & rapports") == "Accus&AOk-s &- rapports"
    conn = peer.client()
    try:
        if conn.select('"Accus&AOk-s"')[0] != "OK":
            conn.create('"Accus&AOk-s"')
        conn.append('"Accus&AOk-s"', "", None, REPORT)
    finally:
        conn.logout()
    with mailbox(peer, DISPATCH_IMAP_FOLDER="Accusés").open() as box:
        assert [m.content_type.split(";")[0] for m in box.unseen()][-1] == "multipart/report"


def test_an_empty_mailbox_lists_nothing(peer: DovecotPeer) -> None:
    with mailbox(peer).open() as box:
        assert box.unseen() == [] and box.fetch([], 1 << 20) == {}
        box.mark_seen([])


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"DISPATCH_IMAP_USER": LOGIN, "DISPATCH_IMAP_PASSWORD": "wrong"}, "authentication refused"),
        ({"DISPATCH_IMAP_USER": "someone@else.fr"}, "authentication refused"),  # EXTERNAL for another identity
        ({"DISPATCH_IMAP_FOLDER": "Réponses"}, "cannot be opened"),
    ],
    ids=["bad password", "other identity", "no such folder"],
)
def test_refusals_say_why(peer: DovecotPeer, changes: dict[str, str], expected: str) -> None:
    with pytest.raises(MailboxError, match=expected), mailbox(peer, **changes).open():
        pass


def test_a_certificate_the_operator_does_not_know_is_refused(peer: DovecotPeer, pki: Pki) -> None:
    rogue = {"DISPATCH_SMTP_CERT": str(pki.rogue_client_cert), "DISPATCH_SMTP_KEY": str(pki.rogue_client_key)}
    with pytest.raises(MailboxError, match="authentication refused.*certificate"), mailbox(peer, **rogue).open():
        pass
    # A password is no way around it: the operator wants the certificate as well.
    no_cert = {"DISPATCH_SMTP_CERT": "", "DISPATCH_SMTP_KEY": "", "DISPATCH_IMAP_USER": LOGIN, "DISPATCH_IMAP_PASSWORD": PASSWORD}
    with pytest.raises(MailboxError, match="certificate"), mailbox(peer, **no_cert).open():
        pass


def test_a_server_whose_certificate_we_cannot_verify_is_not_trusted(peer: DovecotPeer, pki: Pki) -> None:
    with (
        pytest.raises(MailboxError, match="server certificate rejected"),
        mailbox(peer, DISPATCH_SMTP_CA=str(pki.rogue_ca_cert)).open(),
    ):
        pass


def test_a_closed_port_is_a_network_error(peer: DovecotPeer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(MailboxError, match="network error"), mailbox(peer, DISPATCH_IMAP_PORT=str(port)).open():
        pass


ENV = {"DISPATCH_ENV": "development", "DISPATCH_SECRET_KEY": "k", "DISPATCH_DATABASE_URL": "sqlite://"}


def test_settings_from_the_environment_select_the_mailbox(tmp_path: Path, pki: Pki) -> None:
    environ = {
        **ENV,
        "DISPATCH_IMAP_HOST": "imap.operateur.mssante.example",
        "DISPATCH_SMTP_CERT": str(pki.client_cert),
        "DISPATCH_SMTP_KEY": str(pki.client_key),
    }
    config = settings.load(tmp_path, environ=environ)
    ports = build_ports(config, FakeClock(), tmp_path)
    box = ports.mailbox
    assert isinstance(box, ImapMailbox)
    assert (box.host, box.port, box.folder, box.user, box.password) == ("imap.operateur.mssante.example", 993, "INBOX", None, None)
    environ |= {
        "DISPATCH_IMAP_PORT": "1993",
        "DISPATCH_IMAP_FOLDER": "Accuses",
        "DISPATCH_IMAP_USER": LOGIN,
        "DISPATCH_IMAP_PASSWORD": "p",
    }
    box = build_ports(settings.load(tmp_path, environ=environ), FakeClock(), tmp_path).mailbox
    assert isinstance(box, ImapMailbox) and (box.port, box.folder, box.user, box.password) == (1993, "Accuses", LOGIN, "p")
    check_settings(settings.load(tmp_path, environ=environ))  # 60 s by default


def test_without_a_host_the_mailbox_is_not_read(tmp_path: Path) -> None:
    assert build_ports(settings.load(tmp_path, environ=ENV), FakeClock(), tmp_path).mailbox is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DISPATCH_IMAP_PASSWORD": "p"}, "DISPATCH_IMAP_PASSWORD needs DISPATCH_IMAP_USER"),
        ({"DISPATCH_SMTP_CERT": ""}, "certificate"),
        ({"DISPATCH_IMAP_PORT": "imaps"}, "DISPATCH_IMAP_PORT='imaps' : nombre entier attendu"),  # the typed settings
        ({"DISPATCH_IMAP_FOLDER": 'IN"BOX'}, "DISPATCH_IMAP_FOLDER"),
    ],
)
def test_incomplete_settings_stop_the_service(tmp_path: Path, pki: Pki, environ: dict[str, str], message: str) -> None:
    base = {
        **ENV,
        "DISPATCH_IMAP_HOST": "imap.example",
        "DISPATCH_SMTP_CERT": str(pki.client_cert),
        "DISPATCH_SMTP_KEY": str(pki.client_key),
    }
    with pytest.raises(ConfigurationError, match=message):
        build_ports(settings.load(tmp_path, environ={**base, **environ}), FakeClock(), tmp_path)


@pytest.mark.parametrize("value", ["5", "3601", "soixante", "-60"])
def test_a_poll_interval_out_of_bounds_stops_the_service(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match="DISPATCH_IMAP_POLL_S"):
        check_settings(settings.load(tmp_path, environ={**ENV, "DISPATCH_IMAP_POLL_S": value}))
