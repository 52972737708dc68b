"""Use case of the receipts poller: read the platform's mailbox and record what each report (DSN, MDN) says of the
secure message it is about: the message's outbox row first, then the domain's hooks (the synthesis, the trail).

A status only moves forward (delivered, then read; refused or failed end it): a late or repeated report changes
nothing. Each report is committed on its own, then the mails are marked read: a crash in between re-reads at most
what was not marked, and reading it again changes nothing. Mails that are not reports, reports about no message of
ours, and reports not believed (`receipts.doubt`: about another recipient, an MDN not from the GP's box, a DSN not
from the platform's own MSSanté operator) are left unread for a person to see, and logged once, without their
content. A poll asks only about the mails after those already looked at (UIDs, under the folder's UIDVALIDITY), and
reads at most READ_BYTES of each report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update

from dispatch.db import db
from dispatch.notify.imap import MailboxError
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import MailboxPort, Unseen
from dispatch.notify.receipts import Receipt, domains_setting, doubt, is_report, parse_receipt
from dispatch.notify.service import SENT_FROM, Hooks

log = logging.getLogger(__name__)

# What a report can say of a secure message, in the order the news can follow each other.
MAIL_RANKS = {"delivered": 1, "read": 2, "refused": 3, "failed": 3}
PER_POLL = 100  # reports read in one poll; the rest wait for the next
MAX_REPORT_BYTES = 25 * 1024 * 1024  # an MSSanté MDN returns the message with its attachments: listed, never read whole
READ_BYTES = 256 * 1024  # what is read of a report: its fields come before the message it returns (RFC 6522 §3)
_NOTED_MAX = 10_000


@dataclass
class Polled:
    """What one poll did, for the logs and the tests."""

    recorded: int = 0  # reports about a message of ours, recorded and marked read
    moved: int = 0  # of which changed that message's status
    left: int = 0  # mails left unread: not reports, too large, not understood, not believed, or about no message of ours
    error: str | None = None  # why the mailbox could not be read


def operator_domains(config: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the mail domains of the platform's own MSSanté operator, whose delivery reports (DSN) are believed:
    DISPATCH_MSSANTE_OPERATOR_DOMAINS, else the domain of DISPATCH_SMTP_HOST (smtp.operateur.fr → operateur.fr)."""
    given = domains_setting(config.get("DISPATCH_MSSANTE_OPERATOR_DOMAINS"))
    if given:
        return given
    host = str(config.get("DISPATCH_SMTP_HOST") or "").strip().lower().rstrip(".")
    labels = host.split(".")
    if len(labels) < 2 or not labels[-1].isalpha():  # no host, or an IP address: no operator to believe
        return ()
    return (".".join(labels[1:]) if len(labels) > 2 else host,)


def record_receipt(
    receipt: Receipt, *, now: datetime, hooks: Hooks, dsn_domains: tuple[str, ...] = (), found_in: str | None = None
) -> bool | str | None:
    """Record a report found in the mailbox `found_in` (its address; None: not said) in the caller's transaction:
    True if its message's status moved, False if the message is ours but nothing moved (news already known, older,
    or not final), None if no message of ours has its id, and why not when it is not believed (found in another
    mailbox than the message left from, another recipient, not from the GP's box, not from our operator)."""
    if receipt.original_id is None:
        return None
    row = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.provider_id == receipt.original_id, OutboxMessage.channel == "mail")
    )
    if row is None:
        return None
    why_not = doubt(
        receipt,
        address=row.address or "",
        dsn_domains=dsn_domains,
        sent_from=str((row.payload or {}).get(SENT_FROM) or "") or None,
        found_in=found_in,
    )
    if why_not is not None:
        return why_not
    if receipt.status is None:
        return False
    rank = MAIL_RANKS[receipt.status]
    earlier = [status for status, value in MAIL_RANKS.items() if value < rank]
    values: dict[str, Any] = {"provider_status": receipt.status}
    if receipt.status in ("refused", "failed"):
        values["last_error"] = receipt.explained[:500]
    # Conditional: two reports read at once, or in the wrong order, never move a status back.
    moved = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, or_(OutboxMessage.provider_status.is_(None), OutboxMessage.provider_status.in_(earlier)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    db.session.refresh(row)
    info = {"receipt": receipt.kind, "code": receipt.code, "reason": receipt.reason, "explained": receipt.explained}
    if receipt.diagnostic:
        info["diagnostic"] = receipt.diagnostic
    for key in (row.kind, None):  # the kind's handler, then the one for every kind (as the sender does)
        handler = hooks.delivered.get(key)
        if handler is not None:
            handler(row, receipt.status, now, info)
    return True


class ReceiptPoller:
    """Reads one mailbox for reports; remembers, for this process, how far in the folder it has looked (UIDs under
    its UIDVALIDITY) and the mails it leaves unread. `address`: the mailbox's own (the platform's DISPATCH_SMTP_FROM,
    a community's mssante_from): a report about a message that left from another mailbox is not believed; None
    (a mailbox whose address is not known) compares nothing."""

    def __init__(
        self,
        mailbox: MailboxPort,
        *,
        per_poll: int = PER_POLL,
        max_bytes: int = MAX_REPORT_BYTES,
        read_bytes: int = READ_BYTES,
        dsn_domains: tuple[str, ...] = (),
        address: str | None = None,
    ) -> None:
        self.mailbox = mailbox
        self.address = (address or "").strip().lower() or None
        self.per_poll = per_poll
        self.max_bytes = max_bytes
        self.read_bytes = read_bytes
        self.dsn_domains = dsn_domains
        self.noted: set[tuple[str, str]] = set()  # (UIDVALIDITY, UID) of mails left unread, logged once
        self.validity: str | None = None  # the folder's UIDVALIDITY when `next_uid` was learnt
        self.next_uid = 1  # every mail below it was looked at: recorded, or left for a person
        self.failing: str | None = None

    def poll(self, *, now: datetime, hooks: Hooks) -> Polled:
        """Read the unread reports that came since the last poll, record each in its own transaction, then mark
        the recorded ones read."""
        polled = Polled()
        try:
            with self.mailbox.open() as box:
                if box.validity != self.validity:  # a new folder, or its UIDs renumbered: look at it all again
                    self.validity, self.next_uid = box.validity, 1
                wanted: list[str] = []
                later: list[int] = []  # UIDs to look at again next time (beyond this poll's share, or to retry)
                listed = box.unseen(since=self.next_uid)
                for mail in listed:
                    if (box.validity, mail.uid) in self.noted:
                        polled.left += 1
                    elif not is_report(mail.content_type) or mail.size > self.max_bytes:
                        self._leave(box.validity, mail, "not a report" if not is_report(mail.content_type) else "too large")
                        polled.left += 1
                    elif len(wanted) < self.per_poll:
                        wanted.append(mail.uid)
                    else:
                        later.append(int(mail.uid))
                done: list[str] = []
                for uid, raw in box.fetch(wanted, self.read_bytes).items() if wanted else ():
                    outcome = self._record(raw, now=now, hooks=hooks, uid=uid)
                    if outcome == "retry":
                        later.append(int(uid))
                    elif outcome in ("moved", "known"):
                        done.append(uid)
                        polled.recorded += 1
                        polled.moved += outcome == "moved"
                    else:
                        self._leave(box.validity, Unseen(uid, len(raw), "multipart/report"), outcome or "about no message of ours")
                        polled.left += 1
                box.mark_seen(done)
                if listed:  # nothing below the first mail still to look at is asked for again
                    self.next_uid = min(later) if later else max(int(mail.uid) for mail in listed) + 1
        except MailboxError as exc:
            polled.error = str(exc)
            if self.failing != polled.error:
                log.warning("the MSSanté mailbox cannot be read: %s", polled.error)
            self.failing = polled.error
            return polled
        if self.failing is not None:
            log.info("the MSSanté mailbox can be read again")
            self.failing = None
        if polled.recorded:
            log.info("mailbox: %s report(s) recorded, %s status(es) moved", polled.recorded, polled.moved)
        return polled

    def _record(self, raw: bytes, *, now: datetime, hooks: Hooks, uid: str) -> str | None:
        """Parse and record one report, committed alone: 'moved', 'known', 'retry' (rolled back), None (about no
        message of ours), or why it is not believed."""
        try:
            receipt = parse_receipt(raw)
        except Exception:  # a report we cannot read will not read better later: leave it to a person
            log.warning("mailbox: report uid %s could not be parsed", uid)
            return None
        if receipt is None:
            return None
        try:
            moved = record_receipt(receipt, now=now, hooks=hooks, dsn_domains=self.dsn_domains, found_in=self.address)
            db.session.commit()
        except Exception as exc:  # a conflicting write, the database away: the next poll reads it again
            db.session.rollback()
            log.warning("mailbox: report uid %s not recorded (%s); read again at the next poll", uid, type(exc).__name__)
            return "retry"
        if moved is None or isinstance(moved, str):
            return None if moved is None else f"not believed: {moved}"
        return "moved" if moved else "known"

    def _leave(self, validity: str, mail: Unseen, why: str) -> None:
        """Leave a mail unread and say so once per process: its UID, size and type, never its content."""
        if len(self.noted) >= _NOTED_MAX:
            self.noted.clear()
        self.noted.add((validity, mail.uid))
        log.info("mailbox: mail uid %s (%s bytes, %s) left unread: %s", mail.uid, mail.size, mail.content_type.split(";")[0], why)


class MailboxesPoller:
    """Reads the platform's mailbox and the mailbox of each community that has its own (`hooks.mailboxes`), each
    through its own ReceiptPoller (UIDs are a mailbox's own), which knows the mailbox's address
    (`platform_address`: DISPATCH_SMTP_FROM) and believes only the reports of what left from it; a mailbox that
    cannot be opened is said once."""

    def __init__(
        self,
        platform: MailboxPort | None,
        mailbox_for: Callable[[str], MailboxPort] | None,
        *,
        dsn_domains: tuple[str, ...] = (),
        platform_address: str | None = None,
    ) -> None:
        self.platform = ReceiptPoller(platform, dsn_domains=dsn_domains, address=platform_address) if platform is not None else None
        self.mailbox_for = mailbox_for
        self.dsn_domains = dsn_domains
        self.communities: dict[str, ReceiptPoller] = {}
        self.unusable: dict[str, str] = {}  # address -> why its mailbox could not be built, logged once
        self.last: dict[str, Polled] = {}

    def poll(self, *, now: datetime, hooks: Hooks) -> Polled:
        """Poll each mailbox in turn; return what the polls did together (each one's in `last`, "" the platform's)."""
        done: dict[str, Polled] = {}
        if self.platform is not None:
            done[""] = self.platform.poll(now=now, hooks=hooks)
        addresses = set(hooks.mailboxes()) if self.mailbox_for is not None else set()
        for gone in set(self.communities) - addresses:
            del self.communities[gone]
        for address in sorted(addresses):
            poller = self.communities.get(address) or self._poller(address)
            if poller is not None:
                done[address] = poller.poll(now=now, hooks=hooks)
        self.last = done
        errors = [f"{address or 'platform'}: {polled.error}" for address, polled in done.items() if polled.error]
        return Polled(
            recorded=sum(polled.recorded for polled in done.values()),
            moved=sum(polled.moved for polled in done.values()),
            left=sum(polled.left for polled in done.values()),
            error="; ".join(errors) or None,
        )

    def _poller(self, address: str) -> ReceiptPoller | None:
        assert self.mailbox_for is not None
        try:
            mailbox = self.mailbox_for(address)
        except (OSError, ValueError) as exc:  # its certificate is missing or unreadable: tried again each poll
            why = f"{type(exc).__name__}: {exc}"[:200]
            if self.unusable.get(address) != why:
                log.warning("the MSSanté mailbox %s cannot be read: %s", address, why)
            self.unusable[address] = why
            return None
        self.unusable.pop(address, None)
        poller = self.communities[address] = ReceiptPoller(mailbox, dsn_domains=self.dsn_domains, address=address)
        return poller
