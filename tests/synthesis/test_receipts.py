"""What becomes of a synthesis after it left: the service sends it over real SMTP (TLS, client certificate), the
reports come back into the platform's own mailbox on a real Dovecot (same certificate), and the receipts poller
reads them: the synthesis's status, the request's events, the physician's and the operator's pages, the report."""

from __future__ import annotations

import contextlib
import html
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from string import Template
from typing import Any

import pytest
from sqlalchemy import select

from dispatch import texts
from dispatch.db import db
from dispatch.notify.imap import ImapMailbox, MailboxError
from dispatch.notify.models import OutboxMessage
from dispatch.notify.receiving import Polled, ReceiptPoller, operator_domains
from dispatch.notify.service import Hooks
from dispatch.requests.models import Synthesis
from dispatch.worker import Worker
from tests.notify.certs import Pki
from tests.pages.conftest import PageClient
from tests.peers.dovecot import DovecotPeer, require_dovecot
from tests.synthesis.conftest import SENDER, MailServer, smtp_settings
from tests.synthesis.test_delivery import OUTSIDE_GP, events, of_type, see, take, world

SAMPLES = Path(__file__).resolve().parent.parent / "notify" / "receipts"
GP = OUTSIDE_GP["mssante"]
NB = "\u00a0"


@pytest.fixture(scope="module")
def dovecot(pki: Pki) -> Iterator[DovecotPeer]:
    """The platform's MSSanté mailbox: its login is the address the platform sends from, named by its certificate."""
    require_dovecot()
    with DovecotPeer(pki, login=SENDER) as peer:
        yield peer


@pytest.fixture
def smtp_overrides(pki: Pki, mail_server: MailServer, dovecot: DovecotPeer) -> dict[str, Any]:
    """SMTP to the stand-in operator, and its IMAP: the mailbox read with the same certificate (SASL EXTERNAL)."""
    dovecot.empty()
    # The platform's MSSanté operator: its submission server writes the bounces, its MX (which also holds the
    # outside GP's box here) the delivery reports. A DSN from any other server is not believed.
    operator = {"DISPATCH_MSSANTE_OPERATOR_DOMAINS": "operateur-mss.fr, .medecin.mssante.fr"}
    return {**smtp_settings(pki, mail_server.port), **dovecot.settings(), **operator}


@pytest.fixture
def app(mail_app: Any) -> Any:
    return mail_app


@pytest.fixture
def poller(app: Any) -> ReceiptPoller:
    mailbox = app.extensions["dispatch"].ports.mailbox
    assert mailbox is not None  # the wiring read DISPATCH_IMAP_HOST
    return ReceiptPoller(mailbox, dsn_domains=operator_domains(app.config))


def report(name: str, original_id: str, *, recipient: str = GP) -> bytes:
    """Return a report sample about the message `original_id`, as its software writes it."""
    fields = {"platform": SENDER, "recipient": recipient, "original_id": original_id, "envid": original_id}
    fields["spaced_id"] = original_id.replace(">", " >")
    return Template((SAMPLES / name).read_text(encoding="utf-8")).substitute(fields).encode()


def poll(poller: ReceiptPoller, app: Any, clock: Any) -> Polled:
    hooks: Hooks = app.extensions["dispatch.hooks"]
    polled = poller.poll(now=clock.now(), hooks=hooks)
    assert polled.error is None, polled.error
    return polled


def synthesis_of(request_id: int) -> Synthesis:
    db.session.expire_all()
    row = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request_id))
    assert row is not None
    return row


def seen_world(make: Any, clock: Any, *, treating: str = "outside", again: dict[str, Any] | None = None) -> dict[str, Any]:
    """A request taken by a CAMI doctor, the patient seen, the synthesis (and the 'taken' notice) sent; `again`: one
    more request of that world's community, for the same GP."""
    if again is None:
        w = world(make, treating=treating)
    else:
        w = {**again, "request": make.open(again["operator"], again["community"], treating_physician=OUTSIDE_GP)}
    take(make, w["cami"], w["request"], clock)
    make.deliver()
    clock.advance(hours=1)
    see(make, w["cami"], w["request"]["id"])
    make.deliver()
    w["synthesis"] = synthesis_of(w["request"]["id"])
    assert w["synthesis"].status == "sent" and re.fullmatch(r"<[0-9a-f]{32}@cpts-test\.mssante\.fr>", w["synthesis"].message_id)
    return w


def taken_id(request_id: int) -> str:
    """Return the Message-ID the 'taken' notice of a request went with."""
    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.request_id == request_id, OutboxMessage.kind == "taken"))
    assert row is not None and row.provider_id
    return row.provider_id


def figures(make: Any, w: dict[str, Any]) -> dict[str, int]:
    coordinator = make.member(w["community"], "coordinator")
    answer = make.call("GET", f"/communities/{w['community'].id}/report?from=2026-11-01&to=2026-11-30", coordinator)
    assert answer.status_code == 200, answer.json
    return answer.json["syntheses"]  # type: ignore[no-any-return]


def page(app: Any, who: Any, path: str) -> str:
    client = PageClient(app)
    assert client.sign_in(getattr(who, "user", who).login).status_code == 302
    response = client.get(path)
    assert response.status_code == 200
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(response.get_data(as_text=True)))  # no-break spaces kept


def test_delivered_then_read_shows_everywhere_and_never_goes_back(
    make: Any, app: Any, clock: Any, dovecot: DovecotPeer, poller: ReceiptPoller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dispatch")
    w = seen_world(make, clock)
    rid, ident = w["request"]["id"], w["synthesis"].message_id
    dovecot.deliver(report("postfix_delivered.eml", ident))  # the GP's operator delivered it ...
    dovecot.deliver(report("mssante_processed.eml", taken_id(rid)))  # ... and the notice
    dovecot.deliver(b"From: " + GP.encode() + b"\r\nSubject: Re: MARTIN Lucie\r\n\r\nMerci pour la synthese.\r\n")
    dovecot.deliver(report("thunderbird_displayed.eml", "<not-ours@elsewhere.fr>"))
    clock.advance(minutes=2)

    polled = poll(poller, app, clock)
    assert (polled.recorded, polled.moved, polled.left) == (2, 2, 2)
    assert synthesis_of(rid).status == "delivered" and synthesis_of(rid).status_at == clock.now()
    # The reports are marked read; the GP's reply and the report about another message are left for a person.
    flags = dovecot.flags()
    assert [("\\Seen" in f) for _, f in sorted(flags.items())] == [True, True, False, False]

    clock.advance(minutes=20)
    dovecot.deliver(report("thunderbird_displayed.eml", ident))  # the GP opened it
    assert poll(poller, app, clock).moved == 1
    read_at = clock.now()
    clock.advance(minutes=5)
    dovecot.deliver(report("postfix_delivered.eml", ident))  # a late, repeated delivery report ...
    late = poll(poller, app, clock)
    assert (late.recorded, late.moved) == (1, 0)  # ... read and marked, but nothing moves back
    synthesis = synthesis_of(rid)
    assert (synthesis.status, synthesis.status_at, synthesis.status_reason) == ("read", read_at, None)

    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == ident))
    assert row is not None and (row.status, row.provider_status) == ("sent", "read")
    trail = events(make, w["operator"], rid)
    assert [e["type"] for e in trail if e["type"].startswith(("synthesis_", "taken_"))][:6] == [
        "synthesis_read",
        "taken_delivered",
        "synthesis_delivered",
        "synthesis_sent",
        "synthesis_written",
        "taken_sent",
    ]
    assert of_type(trail, "synthesis_read")[0]["data"] == {"to": GP, "via": "mdn", "code": "displayed"}
    assert of_type(trail, "synthesis_delivered")[0]["data"] == {
        "to": GP,
        "via": "dsn",
        "code": "2.0.0",
        "error": "delivery via dovecot service",
    }
    shown = make.call("GET", f"/requests/{rid}", w["operator"]).json
    assert shown["synthesis_status"] == "read"

    local = texts.hhmm(read_at, "Europe/Paris")
    assert local == "16:22"
    assert f"Lue par le médecin traitant aujourd'hui à {local}" in page(app, w["cami"], "/m/patients")
    console = page(app, w["operator"], f"/console/demandes/{rid}")
    assert (
        f'<dd id="synthesis-delivery" class="delivery ok">Synthèse lue par le médecin traitant aujourd\'hui à {local}</dd>'
        in console
    )
    assert figures(make, w) == {
        "sent": 1,
        "pending": 0,
        "failed": 0,
        "delivered": 1,
        "read": 1,
        "refused": 0,
        "not_sendable": 0,
        "not_needed": 0,
    }

    # The mails left unread are not even listed again (the poller asks for the UIDs after those it looked at), and
    # were logged once, without a word of their content.
    again = poll(poller, app, clock)
    assert (again.recorded, again.left) == (0, 0) and poller.next_uid == max(dovecot.flags()) + 1
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("dispatch")]
    unread = [line for line in logged if "left unread" in line]
    assert (
        len(unread) == 2 and any("not a report" in line for line in unread) and any("no message of ours" in line for line in unread)
    )
    everything = "\n".join(logged)
    assert "Lucie" not in everything and "MARTIN" not in everything and "Merci" not in everything


def test_a_bounce_and_a_refusal_say_why(make: Any, app: Any, clock: Any, dovecot: DovecotPeer, poller: ReceiptPoller) -> None:
    bounced = seen_world(make, clock)
    refused = seen_world(make, clock, again=bounced)
    dovecot.deliver(report("postfix_failed.eml", bounced["synthesis"].message_id))
    dovecot.deliver(report("mssante_error.eml", refused["synthesis"].message_id))
    assert poll(poller, app, clock).moved == 2

    failed = synthesis_of(bounced["request"]["id"])
    assert failed.status == "failed"
    # Our words, then the remote server's, quoted as theirs (issue 23 point 3): they are not the platform's.
    assert failed.status_reason == (
        f"adresse inconnue chez l'opérateur du destinataire (5.1.1). Réponse du serveur de messagerie, telle quelle{NB}: "
        f"«{NB}550 5.1.1 <{GP}>: Recipient address rejected: User unknown in virtual mailbox table{NB}»"
    )
    (event,) = of_type(events(make, bounced["operator"], bounced["request"]["id"]), "synthesis_failed")
    assert event["data"]["reason"] == "adresse inconnue chez l'opérateur du destinataire (5.1.1)"
    assert event["data"]["via"] == "dsn" and event["data"]["error"].startswith("550 5.1.1")
    # A coordinator's anonymised trail keeps the reason, not the server's words quoting the GP's address.
    coordinator = make.member(bounced["community"], "coordinator")
    (anonymised,) = of_type(events(make, coordinator, bounced["request"]["id"]), "synthesis_failed")
    assert "error" not in anonymised["data"] and "to" not in anonymised["data"] and anonymised["data"]["reason"]

    rejected = synthesis_of(refused["request"]["id"])
    assert rejected.status == "refused"
    why = "le logiciel du médecin traitant n'a pas pu intégrer le document (erreur 902)"
    quoted = f"{why}. Réponse du logiciel du médecin traitant, telle quelle{NB}: «{NB}Identifiant de patient inconnu{NB}»"
    assert rejected.status_reason == quoted
    (event,) = of_type(events(make, refused["operator"], refused["request"]["id"]), "synthesis_refused")
    assert event["data"] == {"to": GP, "via": "mdn", "code": "processed/error", "reason": why, "error": rejected_error()}

    # The physician's page says it in their words (both requests were theirs).
    patients = page(app, bounced["cami"], "/m/patients")
    assert f"Non remise au médecin traitant{NB}: adresse inconnue chez l'opérateur du destinataire (5.1.1). Réponse" in patients
    assert f"Refusée{NB}: {quoted}" in patients
    console = page(app, refused["operator"], f"/console/demandes/{refused['request']['id']}")
    assert f'class="delivery error">Synthèse refusée{NB}: {quoted}</dd>' in console
    assert figures(make, refused) == {
        "sent": 0,
        "pending": 0,
        "failed": 1,
        "delivered": 0,
        "read": 0,
        "refused": 1,
        "not_sendable": 0,
        "not_needed": 0,
    }

    # A read receipt after the refusal changes nothing: refused ends it.
    dovecot.deliver(report("thunderbird_displayed.eml", refused["synthesis"].message_id))
    assert poll(poller, app, clock).moved == 0
    assert synthesis_of(refused["request"]["id"]).status == "refused"


def rejected_error() -> str:
    return "902^Identifiant de patient inconnu^messageErrorCondition| E^Error^errorSeverity"


class FlakyMarking:
    """The real mailbox, whose first marking fails: as if the service died between the commit and the marking."""

    def __init__(self, mailbox: Any) -> None:
        self.mailbox, self.failed = mailbox, False

    @contextlib.contextmanager
    def open(self) -> Iterator[Any]:
        with self.mailbox.open() as box:
            mark_seen = box.mark_seen

            def fail_once(uids: list[str]) -> None:
                if not self.failed:
                    self.failed = True
                    raise MailboxError("connection lost")
                mark_seen(uids)

            box.mark_seen = fail_once
            yield box


def test_a_crash_before_the_marking_reads_the_report_again_and_changes_nothing(
    make: Any, app: Any, clock: Any, dovecot: DovecotPeer
) -> None:
    w = seen_world(make, clock, treating="member")
    dovecot.deliver(report("thunderbird_displayed.eml", w["synthesis"].message_id, recipient=w["synthesis"].to_address))
    poller = ReceiptPoller(FlakyMarking(app.extensions["dispatch"].ports.mailbox))
    first = poller.poll(now=clock.now(), hooks=app.extensions["dispatch.hooks"])
    assert first.error == "connection lost" and first.moved == 1  # recorded and committed, not marked
    assert synthesis_of(w["request"]["id"]).status == "read"
    second = poll(poller, app, clock)
    assert (second.recorded, second.moved) == (1, 0)  # read again, nothing moves
    assert all("\\Seen" in flags for flags in dovecot.flags().values())
    assert len(of_type(events(make, w["operator"], w["request"]["id"]), "synthesis_read")) == 1


def test_the_worker_reads_the_mailbox_when_it_leads(make: Any, app: Any, clock: Any, dovecot: DovecotPeer) -> None:
    w = seen_world(make, clock, treating="member")
    dovecot.deliver(report("mssante_processed.eml", w["synthesis"].message_id, recipient=w["synthesis"].to_address))
    worker = Worker(app)
    try:
        if worker.leader is not None:  # PostgreSQL: only the tick's leader reads the mailbox
            assert worker.poll_receipts() is None and synthesis_of(w["request"]["id"]).status == "sent"
            assert worker.leader.is_leader()
        polled = worker.poll_receipts()
        assert polled is not None and polled.moved == 1
        assert synthesis_of(w["request"]["id"]).status == "delivered"
    finally:
        if worker.leader is not None:
            worker.leader.release()


def test_a_mailbox_that_refuses_us_is_logged_once_until_it_is_back(
    app: Any, clock: Any, dovecot: DovecotPeer, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    rogue = ImapMailbox.from_config(
        dovecot.settings(DISPATCH_SMTP_CERT=str(pki.rogue_client_cert), DISPATCH_SMTP_KEY=str(pki.rogue_client_key))
    )
    assert rogue is not None
    poller = ReceiptPoller(rogue)
    hooks = app.extensions["dispatch.hooks"]
    caplog.set_level(logging.INFO, logger="dispatch")
    for _ in range(3):
        assert "certificate" in (poller.poll(now=clock.now(), hooks=hooks).error or "")
    warnings = [r for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    poller.mailbox = app.extensions["dispatch"].ports.mailbox
    assert poller.poll(now=clock.now(), hooks=hooks).error is None
    assert any("can be read again" in r.getMessage() for r in caplog.records)


def test_forged_reports_are_not_believed_and_say_nothing_on_the_pages(
    make: Any, app: Any, clock: Any, dovecot: DovecotPeer, poller: ReceiptPoller, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 23 point 3: a report moves a synthesis only when it is about its unguessable Message-ID, names the
    address it went to, and comes from that address (MDN) or from the platform's own MSSanté operator (DSN)."""
    caplog.set_level(logging.INFO, logger="dispatch")
    w = seen_world(make, clock)
    rid, ident = w["request"]["id"], w["synthesis"].message_id
    evil = b"mallory@evil.mssante.fr"
    # 1. An MDN refusing it, written by someone else's software (the GP's address only as Final-Recipient).
    dovecot.deliver(report("mssante_error.eml", ident).replace(b"From: " + GP.encode(), b"From: " + evil, 1))
    # 2. A bounce from our operator, about another recipient.
    dovecot.deliver(report("postfix_failed.eml", ident, recipient="someone.else@medecin.mssante.fr"))
    # 3. A bounce naming the right recipient, written by a server that is not our operator's.
    dovecot.deliver(report("postfix_failed.eml", ident).replace(b"smtp.operateur-mss.fr", b"mx.evil.example"))
    # 4. A perfect refusal about the Message-ID the synthesis would have had before: <synthesis-N@domain>.
    dovecot.deliver(report("mssante_error.eml", f"<synthesis-{w['synthesis'].id}@cpts-test.mssante.fr>"))
    # 5. A read receipt from the GP's address, about the Message-ID a guess of 128 random bits would give.
    dovecot.deliver(report("thunderbird_displayed.eml", "<" + "0" * 32 + "@cpts-test.mssante.fr>"))
    clock.advance(minutes=2)

    polled = poll(poller, app, clock)
    assert (polled.recorded, polled.moved, polled.left) == (0, 0, 5)
    synthesis = synthesis_of(rid)
    assert (synthesis.status, synthesis.status_reason) == ("sent", None)
    assert not [e for e in events(make, w["operator"], rid) if e["type"] in ("synthesis_failed", "synthesis_refused")]
    assert all("\\Seen" not in flags for flags in dovecot.flags().values())  # left for a person to see
    for text in (page(app, w["cami"], "/m/patients"), page(app, w["operator"], f"/console/demandes/{rid}")):
        assert "Identifiant de patient inconnu" not in text and "Recipient address rejected" not in text
    left = [r.getMessage() for r in caplog.records if "left unread" in r.getMessage()]
    assert sum("not believed: not from the recipient" in line for line in left) == 1
    assert sum("not believed: names another recipient" in line for line in left) == 1
    assert sum("not believed: not from the platform's MSSanté operator" in line for line in left) == 1
    assert sum("about no message of ours" in line for line in left) == 2

    # The GP's own software, about the Message-ID it was sent with, is believed.
    dovecot.deliver(report("mssante_error.eml", ident))
    assert poll(poller, app, clock).moved == 1
    assert synthesis_of(rid).status == "refused"


def test_a_bounce_is_believed_only_from_the_operator_of_the_settings(app: Any) -> None:
    assert operator_domains(app.config) == ("operateur-mss.fr", "medecin.mssante.fr")
    assert operator_domains({"DISPATCH_SMTP_HOST": "smtp.operateur-mss.fr"}) == ("operateur-mss.fr",)
    assert operator_domains({"DISPATCH_SMTP_HOST": "mssante.fr"}) == ("mssante.fr",)
    assert operator_domains({"DISPATCH_SMTP_HOST": "127.0.0.1"}) == ()  # no name: nobody's bounce is believed
    assert operator_domains({"DISPATCH_SMTP_HOST": "localhost"}) == ()


class Spy:
    """The real mailbox, recording what each poll asked of it: from which UID it listed, what it read, how much."""

    def __init__(self, mailbox: Any) -> None:
        self.mailbox = mailbox
        self.listed: list[tuple[int, list[str]]] = []
        self.read: list[tuple[list[str], int, list[int]]] = []
        self.validity: str | None = None  # a UIDVALIDITY to answer instead of the server's

    @contextlib.contextmanager
    def open(self) -> Iterator[Any]:
        with self.mailbox.open() as box:
            unseen, fetch = box.unseen, box.fetch

            def listing(since: int = 1) -> Any:
                found = unseen(since)
                self.listed.append((since, [m.uid for m in found]))
                return found

            def reading(uids: list[str], max_bytes: int) -> dict[str, bytes]:
                got = fetch(uids, max_bytes)
                self.read.append((uids, max_bytes, [len(raw) for raw in got.values()]))
                return got

            box.unseen, box.fetch = listing, reading
            if self.validity is not None:
                box.validity = self.validity
            yield box


def test_the_poller_reads_each_mail_once_and_no_more_of_it_than_its_share(
    make: Any, app: Any, clock: Any, dovecot: DovecotPeer
) -> None:
    """Issue 23 point 11: a poll lists only the mails after those already looked at, and reads a bounded prefix."""
    w = seen_world(make, clock)
    dovecot.deliver(b"From: " + GP.encode() + b"\r\nSubject: Re: synthese\r\n\r\nMerci.\r\n")
    padding = b"Le courriel d'origine.\r\n" + (b"A" * 76 + b"\r\n") * 20_000  # the returned message: 1.5 MB
    dovecot.deliver(report("mssante_error.eml", w["synthesis"].message_id).replace(b"Le courriel d'origine.\n", padding))
    spy = Spy(app.extensions["dispatch"].ports.mailbox)
    poller = ReceiptPoller(spy, read_bytes=64 * 1024, dsn_domains=operator_domains(app.config))

    first = poll(poller, app, clock)
    assert (first.recorded, first.moved, first.left) == (1, 1, 1)
    assert synthesis_of(w["request"]["id"]).status == "refused"  # its fields came first: the prefix was enough
    (since, listed), (read,) = spy.listed[0], spy.read
    assert since == 1 and len(listed) == 2 and read == ([listed[1]], 64 * 1024, [64 * 1024])

    second = poll(poller, app, clock)
    assert (second.recorded, second.left) == (0, 0)
    assert spy.listed[1] == (int(listed[1]) + 1, []) and len(spy.read) == 1  # nothing listed again, nothing read

    dovecot.deliver(report("thunderbird_displayed.eml", w["synthesis"].message_id))
    assert poll(poller, app, clock).recorded == 1 and spy.listed[2][1] == [str(int(listed[1]) + 1)]
    spy.validity = "4242"  # the folder was recreated: its UIDs name other mails now
    poll(poller, app, clock)
    assert spy.listed[3][0] == 1
