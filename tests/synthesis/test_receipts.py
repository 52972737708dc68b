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
from dispatch.notify.receiving import Polled, ReceiptPoller
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
    return {**smtp_settings(pki, mail_server.port), **dovecot.settings()}


@pytest.fixture
def app(mail_app: Any) -> Any:
    return mail_app


@pytest.fixture
def poller(app: Any) -> ReceiptPoller:
    mailbox = app.extensions["dispatch"].ports.mailbox
    assert mailbox is not None  # the wiring read DISPATCH_IMAP_HOST
    return ReceiptPoller(mailbox)


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
    assert w["synthesis"].status == "sent" and w["synthesis"].message_id == f"<synthesis-{w['synthesis'].id}@cpts-test.mssante.fr>"
    return w


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
    dovecot.deliver(report("mssante_processed.eml", f"<taken-{rid}@cpts-test.mssante.fr>"))  # ... and the notice
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

    # The mails left unread are not read again, and were logged once, without a word of their content.
    again = poll(poller, app, clock)
    assert (again.recorded, again.left) == (0, 2)
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
    assert failed.status_reason == (
        f"adresse inconnue chez l'opérateur du destinataire (550 5.1.1 <{GP}>: Recipient address rejected: "
        "User unknown in virtual mailbox table)"
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
    why = f"le logiciel du médecin traitant n'a pas pu intégrer le document{NB}: Identifiant de patient inconnu (erreur 902)"
    assert rejected.status_reason == why
    (event,) = of_type(events(make, refused["operator"], refused["request"]["id"]), "synthesis_refused")
    assert event["data"] == {"to": GP, "via": "mdn", "code": "processed/error", "reason": why, "error": rejected_error()}

    # The physician's page says it in their words (both requests were theirs).
    patients = page(app, bounced["cami"], "/m/patients")
    assert f"Non remise au médecin traitant{NB}: adresse inconnue chez l'opérateur du destinataire (550 5.1.1" in patients
    assert f"Refusée{NB}: {why}" in patients
    console = page(app, refused["operator"], f"/console/demandes/{refused['request']['id']}")
    assert f'class="delivery error">Synthèse refusée{NB}: {why}</dd>' in console
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
    dovecot.deliver(report("thunderbird_displayed.eml", w["synthesis"].message_id))
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
    dovecot.deliver(report("mssante_processed.eml", w["synthesis"].message_id))
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
