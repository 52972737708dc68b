"""What a built application holds besides its settings: the clock, the password hasher, the ports to the
outside, and the outbox wake-up. Built once by `create_app`, never changed afterwards."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from flask import current_app, g, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from dispatch.notify.annuaire import DirectoryPort
    from dispatch.notify.geoplateforme import GeocoderPort
    from dispatch.notify.ports import MailboxPort, MailPort, PushPort, SmsPort, SmsStatusPort

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class Ports:
    """The adapters to the outside systems: real, dev inbox, or a test's recording fakes."""

    push: PushPort
    sms: SmsPort
    mail: MailPort
    webpush: PushPort | None = None  # the installable app's browsers; None: every device through `push`
    vapid_public_key: str = ""  # the application server key browsers subscribe with (GET /webpush/key)
    directory: DirectoryPort | None = None  # the national directory (Annuaire Santé); None: no lookups
    geocoder: GeocoderPort | None = None  # the Géoplateforme (DISPATCH_GEOCODER=geoplateforme); None: not online
    mailbox: MailboxPort | None = None  # the platform's own MSSanté mailbox (receipts); None: not read
    # A community's own MSSanté mailbox by its address (receipts of what it sent); None: communities' not read.
    mailbox_for: Callable[[str], MailboxPort] | None = None
    # The ordinary relay (DISPATCH_MAIL_SMTP_*): mail that concerns no patient; None: `mail` (a test's fakes only).
    relay: MailPort | None = None
    # Where SMS statuses are asked for (a service without signed callbacks: OVHcloud); None: they come to us.
    sms_status: SmsStatusPort | None = None
    closers: tuple[Callable[[], None], ...] = ()

    def close(self) -> None:
        """Release what the adapters hold (threads, connections), last opened first."""
        for close in reversed(self.closers):
            close()


class Wakeup:
    """Who to tell that the outbox has news: this process's sender, the other workers (NOTIFY), or no one.

    The entry points subscribe (a worker its sender, a web process on PostgreSQL the NOTIFY); a commit that
    queued messages calls it (`after_commit` hook below), never a view or a service by hand.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: tuple[Callable[[], None], ...] = ()

    def subscribe(self, target: Callable[[], None]) -> None:
        """Call `target` on every wake-up from now on."""
        with self._lock:
            self._targets = (*self._targets, target)

    def __call__(self) -> None:
        for target in self._targets:
            try:
                target()
            except Exception:  # a lost wake-up only delays: the senders also look every few seconds
                log.warning("an outbox wake-up failed", exc_info=True)


@dataclass(frozen=True)
class Runtime:
    """Per-app state: the clock, the password hasher, the ports and the sender's wake-up."""

    clock: Clock
    hasher: PasswordHasher
    ports: Ports
    wakeup: Wakeup = field(default_factory=Wakeup)

    @property
    def push(self) -> PushPort:
        return self.ports.push

    @property
    def sms(self) -> SmsPort:
        return self.ports.sms

    @property
    def mail(self) -> MailPort:
        return self.ports.mail


def runtime() -> Runtime:
    """Return the current app's runtime."""
    return current_app.extensions["dispatch"]  # type: ignore[no-any-return]


def now() -> datetime:
    """Read the app's clock once per HTTP request (or app context)."""
    if "now" not in g:
        g.now = runtime().clock.now()
    return g.now  # type: ignore[no-any-return]


# A transaction that queued outbox messages sets this in its session's info; its commit wakes the senders.
OUTBOX_QUEUED = "outbox_queued"


def note_outbox_queued(session: Session) -> None:
    """Mark the session's transaction as one whose commit must wake the senders."""
    session.info[OUTBOX_QUEUED] = True


def _wake_after_commit(session: Session) -> None:
    if session.info.pop(OUTBOX_QUEUED, False) and has_app_context():
        current = current_app.extensions.get("dispatch")
        if isinstance(current, Runtime):
            current.wakeup()


def _forget_after_rollback(session: Session) -> None:
    session.info.pop(OUTBOX_QUEUED, None)


def install_session_hooks(session_factory: Any) -> None:
    """Wake the senders after each commit that queued messages (idempotent: apps share one `db`)."""
    if not event.contains(session_factory, "after_commit", _wake_after_commit):
        event.listen(session_factory, "after_commit", _wake_after_commit)
        event.listen(session_factory, "after_rollback", _forget_after_rollback)
