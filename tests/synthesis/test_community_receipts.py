"""Each community's receipts come back to its own MSSanté mailbox (issue 25, point 4), end to end: two syntheses
leave over real SMTP, A's from its community's mailbox (its own certificate, from DISPATCH_MSSANTE_CERTS_DIR), B's
from the platform's; their reports are delivered by Dovecot's LDA into the mailbox each went from, on one real
Dovecot where each mailbox signs in with SASL EXTERNAL under its own certificate issued by the operator's CA; the
worker's receipts poller reads both. A report found in a mailbox the message did not leave from is not believed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from string import Template
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.db import db
from dispatch.notify.imap import ImapMailbox, MailboxError
from dispatch.notify.models import OutboxMessage
from dispatch.notify.receiving import Polled
from dispatch.requests.models import Synthesis
from dispatch.worker import Worker
from tests.notify.certs import Pki
from tests.peers.dovecot import DovecotPeer, require_dovecot
from tests.synthesis.conftest import SENDER, MailServer, smtp_settings
from tests.synthesis.test_delivery import OUTSIDE_GP, see, take

SAMPLES = Path(__file__).resolve().parent.parent / "notify" / "receipts"
GP = OUTSIDE_GP["mssante"]
A_FROM = "cpts-bievre@cpts-bievre.mssante.fr"


@pytest.fixture(scope="module")
def community_certificate(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Community A's mailbox certificate and key, issued by the operator's CA (the one that issued the platform's)."""
    return pki.issue_client(A_FROM, tmp_path_factory.mktemp("cpts-a"))


@pytest.fixture(scope="module")
def dovecot(pki: Pki, community_certificate: tuple[Path, Path]) -> Iterator[DovecotPeer]:
    """The operator's IMAP server holding two mailboxes: the platform's and community A's, each named by its CN."""
    require_dovecot()
    with DovecotPeer(pki, login=SENDER, others={A_FROM: community_certificate}) as peer:
        yield peer


@pytest.fixture
def certs_dir(tmp_path: Path, community_certificate: tuple[Path, Path]) -> Path:
    folder = tmp_path / "mssante-certs"
    folder.mkdir()
    cert, key = community_certificate
    shutil.copyfile(cert, folder / f"{A_FROM}.crt")
    shutil.copyfile(key, folder / f"{A_FROM}.key")
    return folder


@pytest.fixture
def smtp_overrides(pki: Pki, mail_server: MailServer, dovecot: DovecotPeer, certs_dir: Path) -> dict[str, Any]:
    """SMTP and IMAP to the stand-in operator; a community's mailbox reuses DISPATCH_IMAP_HOST/PORT and the CA of
    DISPATCH_SMTP_CA, with its certificate from DISPATCH_MSSANTE_CERTS_DIR."""
    dovecot.empty()
    dovecot.empty(A_FROM)
    return {
        **smtp_settings(pki, mail_server.port),
        **dovecot.settings(),
        "DISPATCH_MSSANTE_CERTS_DIR": str(certs_dir),
        "DISPATCH_MSSANTE_OPERATOR_DOMAINS": "operateur-mss.fr, .medecin.mssante.fr",
    }


@pytest.fixture
def app(mail_app: Any) -> Any:
    return mail_app


def report(name: str, original_id: str, *, platform: str) -> bytes:
    """Return a report sample about the message `original_id` sent from `platform` to the outside GP."""
    fields = {"platform": platform, "recipient": GP, "original_id": original_id, "envid": original_id}
    fields["spaced_id"] = original_id.replace(">", " >")
    return Template((SAMPLES / name).read_text(encoding="utf-8")).substitute(fields).encode()


def sent_synthesis(make: Any, clock: Any, name: str, **identity: str) -> Synthesis:
    """Open a request for the outside GP in a new community (with `identity`), have it taken and seen: the
    synthesis (and the 'taken' notice) leave over SMTP."""
    community = make.community(name)
    for key, value in identity.items():
        setattr(community, key, value)
    db.session.commit()
    operator = make.member(community, "operator")
    cami = make.member(community, "physician", kind="cami")
    opened = make.open(operator, community, treating_physician=OUTSIDE_GP)
    take(make, cami, opened, clock)
    make.deliver()
    clock.advance(hours=1)
    see(make, cami, opened["id"])
    make.deliver()
    return synthesis_of(opened["id"])


def synthesis_of(request_id: int) -> Synthesis:
    db.session.expire_all()
    row = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request_id))
    assert row is not None
    return row


def poll_once(app: Any) -> tuple[Polled, dict[str, Polled]]:
    """Run the worker's receipts poller once, as its leader: what it did in all, and in each mailbox."""
    worker = Worker(app)
    try:
        if worker.leader is not None:  # PostgreSQL: the tick's leader alone reads the mailboxes
            assert worker.poll_receipts() is None and worker.leader.is_leader()
        polled = worker.poll_receipts()
        assert polled is not None and polled.error is None, polled
        assert worker.poller is not None
        return polled, worker.poller.last
    finally:
        if worker.leader is not None:
            worker.leader.release()


def test_each_communitys_receipts_are_read_in_its_own_mailbox_and_nowhere_else(
    make: Any, app: Any, clock: Any, mail_server: MailServer, dovecot: DovecotPeer
) -> None:
    a = sent_synthesis(make, clock, "CPTS Bièvre", mssante_from=A_FROM)
    b = sent_synthesis(make, clock, "CPTS Sans Boîte")
    froms = {m["Message-ID"]: m["From"].addresses[0].addr_spec for m in mail_server.messages}
    assert (froms[a.message_id], froms[b.message_id]) == (A_FROM, SENDER)

    # A refusal of A's synthesis, in the platform's mailbox: A's synthesis did not go from there, so no report of
    # it can come back there. Not believed, left unread for a person.
    dovecot.deliver(report("mssante_error.eml", a.message_id, platform=SENDER))
    polled, each = poll_once(app)
    assert (polled.recorded, polled.moved, polled.left) == (0, 0, 1)
    assert set(each) == {"", A_FROM}  # the platform's mailbox and A's, each read
    assert synthesis_of(a.request_id).status == "sent"
    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == a.message_id))
    assert row is not None and row.provider_status is None and row.last_error is None

    # Each report in the mailbox its message went from: A's read receipt in A's, B's delivery report in the platform's.
    dovecot.deliver(report("thunderbird_displayed.eml", a.message_id, platform=A_FROM), to=A_FROM)
    dovecot.deliver(report("postfix_delivered.eml", b.message_id, platform=SENDER))
    clock.advance(minutes=5)
    polled, each = poll_once(app)
    assert (polled.recorded, polled.moved) == (2, 2)
    assert (each[""].moved, each[A_FROM].moved) == (1, 1)
    assert (synthesis_of(a.request_id).status, synthesis_of(b.request_id).status) == ("read", "delivered")
    # Marked read where they were recorded; the misplaced refusal is still unread in the platform's mailbox.
    assert [("\\Seen" in f) for _, f in sorted(dovecot.flags(A_FROM).items())] == [True]
    assert [("\\Seen" in f) for _, f in sorted(dovecot.flags().items())] == [False, True]


def test_a_communitys_certificate_opens_its_own_mailbox_only(app: Any, dovecot: DovecotPeer, certs_dir: Path) -> None:
    config = dict(app.config)
    own = ImapMailbox.for_address(config, A_FROM)
    with own.open() as box:  # SASL EXTERNAL as A, under A's certificate
        assert box.unseen() == []
    # A's certificate asking for the platform's mailbox (the platform's address in A's files): Dovecot refuses.
    shutil.copyfile(certs_dir / f"{A_FROM}.crt", certs_dir / f"{SENDER}.crt")
    shutil.copyfile(certs_dir / f"{A_FROM}.key", certs_dir / f"{SENDER}.key")
    with pytest.raises(MailboxError, match="authentication refused"), ImapMailbox.for_address(config, SENDER).open():
        pass
