"""Ports to the outside systems (push, SMS, secure mail and the platform's own mailbox) and the values they exchange."""

from __future__ import annotations

import enum
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol


class Outcome(str, enum.Enum):
    """How one delivery attempt ended, as classified by the adapter."""

    SENT = "sent"  # the provider accepted the message
    TRANSIENT = "transient"  # try again later (outage, 5xx, 429, timeout, 4xx SMTP)
    PERMANENT = "permanent"  # retrying cannot help (bad request, auth, refused recipient)


@dataclass(frozen=True)
class PushMessage:
    """One push to every device of one physician."""

    tokens: tuple[str, ...]
    data: dict[str, str]  # FCM data: all values are strings
    collapse_key: str  # one per request: an offer and its withdrawal replace each other
    expires_at: datetime | None  # aware UTC; the push is useless after it
    title: str | None = None  # visible notification (offers); None for data-only
    body: str | None = None
    urgent: bool = True  # high priority (offers) or normal (withdrawals)


@dataclass(frozen=True)
class PushResult:
    """What happened to a push, per device token."""

    outcome: Outcome
    sent_tokens: tuple[str, ...] = ()
    dead_tokens: tuple[str, ...] = ()  # unregistered or invalid: remove the device
    retry_tokens: tuple[str, ...] = ()  # transient failure for these tokens
    detail: str = ""


@dataclass(frozen=True)
class SmsMessage:
    """One SMS; `to` is E.164; `sender`: the community's sender, None for the adapter's configured one."""

    to: str
    body: str
    idempotency_key: str
    status_callback: str | None = None
    sender: str | None = None


@dataclass(frozen=True)
class OutgoingMail:
    """A mail built from an outbox row, and the road it takes: MSSanté for what concerns a patient, the ordinary
    relay for the rest (invitations, password links, notices to accounts)."""

    message: EmailMessage
    secure: bool


# The reason an SMS adapter gives, in its detail "... (not_mobile)", when the number is a landline:
# no retry helps, and the request's trail says so for the operator to call instead.
NOT_MOBILE = "not_mobile"


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to an SMS or a secure message."""

    outcome: Outcome
    provider_id: str | None = None
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class PushPort(Protocol):
    def send(self, message: PushMessage) -> PushResult:
        """Send one push to the given tokens."""
        ...

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        """Send many pushes at once; return one result per message, in order."""
        ...


class SmsPort(Protocol):
    def send(self, message: SmsMessage) -> DeliveryResult:
        """Send one SMS."""
        ...


class SmsStatusPort(Protocol):
    def status(self, provider_id: str) -> DeliveryResult:
        """Ask the SMS service what became of one SMS: `extra["status"]` in the outbox's provider statuses (Twilio's
        words), `extra["error_code"]` when it says why; the outcome says whether the question was answered."""
        ...


class MailPort(Protocol):
    def send(self, message: EmailMessage) -> DeliveryResult:
        """Send one secure message (MSSanté) already built."""
        ...


@dataclass(frozen=True)
class Unseen:
    """A mail of the platform's mailbox not yet marked read: its UID, size in bytes and Content-Type."""

    uid: str
    size: int
    content_type: str


class MailboxSession(Protocol):
    """The platform's mailbox, open: UIDs name its mails only together with its `validity` (IMAP UIDVALIDITY)."""

    validity: str

    def unseen(self, since: int = 1) -> list[Unseen]:
        """List the mails not yet marked read whose UID is `since` or more, oldest first, without reading their
        bodies or marking anything."""
        ...

    def fetch(self, uids: list[str], max_bytes: int) -> dict[str, bytes]:
        """Return these mails' first `max_bytes` bytes (the whole of a smaller one), by UID, without marking them."""
        ...

    def mark_seen(self, uids: list[str]) -> None:
        """Mark these mails read: they are not listed again."""
        ...


class MailboxPort(Protocol):
    def open(self) -> AbstractContextManager[MailboxSession]:
        """Connect and open the mailbox for the time of a `with` block."""
        ...
