"""The receipts poller reads each community's own MSSanté mailbox besides the platform's (issue 25, point 4)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatch.notify.imap import ImapMailbox
from dispatch.notify.ports import Unseen
from dispatch.notify.receiving import MailboxesPoller
from dispatch.notify.service import NO_HOOKS
from tests.notify.certs import make_pki

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


class Box:
    """A mailbox that records being opened and holds no mail."""

    validity = "1"

    def __init__(self, name: str, opened: list[str]) -> None:
        self.name, self.opened = name, opened

    @contextlib.contextmanager
    def open(self) -> Iterator[Box]:
        self.opened.append(self.name)
        yield self

    def unseen(self, since: int = 1) -> list[Unseen]:
        return []

    def fetch(self, uids: list[str], max_bytes: int) -> dict[str, bytes]:
        return {}

    def mark_seen(self, uids: list[str]) -> None:
        pass


def test_each_communitys_mailbox_is_read_and_one_without_its_certificate_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    opened: list[str] = []
    listed = ["a@cpts-a.mssante.fr", "b@cpts-b.mssante.fr"]

    def mailbox_for(address: str) -> Box:
        if address.startswith("b@"):
            raise FileNotFoundError("b@cpts-b.mssante.fr.crt")
        return Box(address, opened)

    poller = MailboxesPoller(Box("platform", opened), mailbox_for)
    hooks = dataclasses.replace(NO_HOOKS, mailboxes=lambda: list(listed))
    poller.poll(now=NOW, hooks=hooks)
    poller.poll(now=NOW, hooks=hooks)

    assert opened == ["platform", "a@cpts-a.mssante.fr"] * 2
    assert sum("b@cpts-b.mssante.fr cannot be read" in r.getMessage() for r in caplog.records) == 1
    listed.remove("a@cpts-a.mssante.fr")  # the community gave its mailbox up: no longer read
    poller.poll(now=NOW, hooks=hooks)
    assert opened[-1] == "platform" and "a@cpts-a.mssante.fr" not in poller.communities


def test_a_communitys_mailbox_signs_in_with_its_own_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki", client_name="a@cpts-a.mssante.fr")
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "a@cpts-a.mssante.fr.crt").write_bytes(pki.client_cert.read_bytes())
    (certs / "a@cpts-a.mssante.fr.key").write_bytes(pki.client_key.read_bytes())
    config = {
        "DISPATCH_IMAP_HOST": "127.0.0.1",
        "DISPATCH_IMAP_PORT": "1993",
        "DISPATCH_IMAP_USER": "platform",
        "DISPATCH_IMAP_PASSWORD": "secret",
        "DISPATCH_SMTP_CA": str(pki.ca_cert),
        "DISPATCH_MSSANTE_CERTS_DIR": str(certs),
    }
    box = ImapMailbox.for_address(config, "a@cpts-a.mssante.fr")
    assert (box.host, box.port, box.user, box.password) == ("127.0.0.1", 1993, "a@cpts-a.mssante.fr", None)  # SASL EXTERNAL
    with pytest.raises(ValueError, match="not a mailbox address"):
        ImapMailbox.for_address(config, "../secret@x.fr")
    with pytest.raises(FileNotFoundError):
        ImapMailbox.for_address(config, "c@cpts-c.mssante.fr")
