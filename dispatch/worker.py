"""The worker: the one-second tick that advances due requests, the outbox sender, the receipts poller, the daily erasure."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from dispatch.clock import system_now
from dispatch.db import db
from dispatch.heartbeat import beat
from dispatch.leader import TickLeader, is_postgresql
from dispatch.notify.receiving import MailboxesPoller, Polled, operator_domains
from dispatch.notify.service import deliver_pending
from dispatch.notify.sms_status import SmsStatusPoller
from dispatch.privacy.retention import Swept, run_retention
from dispatch.privacy.retention import due as retention_due
from dispatch.requests.tick import advance_due, next_deadline_after
from dispatch.wiring import imap_poll_s

log = logging.getLogger(__name__)

RETENTION_CHECK_S = 600  # how often the leader asks whether the daily erasure is due
TICK_BATCH = 25  # requests advanced between two wake-ups of the senders
SMS_STATUS_POLL_S = 60  # how often SMS statuses are asked for, from a service that does not call back (OVHcloud)


class Worker:
    """Runs the tick (on PostgreSQL only while it holds the leader lock) and the outbox sender.

    On PostgreSQL every worker tries the leader lock each second, listens for NOTIFY to wake its
    sender at once, and notifies the others after its own commits; on SQLite there is one process.
    """

    def __init__(self, app: Flask, *, tick_s: float = 1.0, safety_s: float = 2.0) -> None:
        self.app = app
        self.tick_s = tick_s
        self.safety_s = safety_s
        self.wakeup = threading.Event()
        self.tick_lock = threading.Lock()
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.thread = threading.Thread(target=self._send_loop, name="outbox-sender", daemon=True)
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        self.shared = is_postgresql(url)
        self.leader = TickLeader(url) if self.shared else None
        self.listener: Any = None
        self.notify: Any = None
        ports = app.extensions["dispatch"].ports
        self.poller = (
            MailboxesPoller(
                ports.mailbox,
                ports.mailbox_for,
                dsn_domains=operator_domains(app.config),
                platform_address=parseaddr(str(app.config.get("DISPATCH_SMTP_FROM") or ""))[1] or None,
            )
            if ports.mailbox is not None or ports.mailbox_for is not None
            else None
        )
        self.sms_poller = SmsStatusPoller(ports.sms_status, provider="ovh") if ports.sms_status is not None else None
        if self.poller is not None and not self.poller.dsn_domains:
            log.warning(
                "no MSSanté operator domain is known (DISPATCH_MSSANTE_OPERATOR_DOMAINS, or a host name in "
                "DISPATCH_SMTP_HOST): delivery reports (DSN) will be left unread, not believed"
            )
        if self.shared:
            from dispatch.wakeup import Listener, notifier

            self.listener = Listener(url, self.wakeup.set)
            with app.app_context():
                self.notify = notifier(db.engine)

    def start(self) -> None:
        """Start the tick, the sender and the listener, and let services wake the sender."""
        self.app.extensions["dispatch"].wakeup.subscribe(self.wake)  # each commit that queued messages
        if self.listener is not None:
            self.listener.start()
        self.scheduler.add_job(
            self.tick, "interval", seconds=self.tick_s, max_instances=1, coalesce=True, id="tick", misfire_grace_time=None
        )
        if self.poller is not None:
            # The platform's mailbox, for delivery and read reports: one reader at a time, a first look soon after start.
            self.scheduler.add_job(
                self.poll_receipts,
                "interval",
                seconds=imap_poll_s(self.app.config),
                max_instances=1,
                coalesce=True,
                id="receipts",
                next_run_time=system_now() + timedelta(seconds=5),
            )
        if self.sms_poller is not None:
            self.scheduler.add_job(
                self.poll_sms_statuses, "interval", seconds=SMS_STATUS_POLL_S, max_instances=1, coalesce=True, id="sms-statuses"
            )
        # The daily erasure (dispatch.privacy.retention): looked at every few minutes, run once a day by the leader.
        self.scheduler.add_job(
            self.retain,
            "interval",
            seconds=RETENTION_CHECK_S,
            max_instances=1,
            coalesce=True,
            id="retention",
            next_run_time=system_now() + timedelta(seconds=30),
        )
        self.scheduler.start()
        self.thread.start()
        self.tick()  # overdue transitions happen at once after a start

    def stop(self) -> None:
        """Stop everything, letting a send in progress finish, and give the leadership up."""
        self.stopping.set()
        self.wakeup.set()
        self.scheduler.shutdown(wait=True)
        self.thread.join(timeout=30)
        if self.listener is not None:
            self.listener.stop()
        if self.leader is not None:
            self.leader.release()

    def wake(self) -> None:
        """Wake this process's sender and, on PostgreSQL, every other worker's."""
        self.wakeup.set()
        if self.notify is not None:
            self.notify()

    def tick(self) -> int:
        """Advance every request whose deadline has passed, if this process leads, then aim at the next one."""
        if self.leader is not None and not self.leader.is_leader():
            return 0
        with self.tick_lock:
            moved = self._advance()
            self._aim()
        return moved

    def _aim(self) -> None:
        """Run one more tick exactly at the next deadline when it falls before the next interval tick."""
        with self.app.app_context():
            try:
                now = self.app.extensions["dispatch"].clock.now()
                upcoming = next_deadline_after(now=now)
            except Exception:
                log.exception("could not read the next deadline; the interval tick will do")
                db.session.rollback()
                return
        if upcoming is None or (upcoming - now).total_seconds() >= self.tick_s or self.stopping.is_set():
            return
        at = system_now() + (upcoming - now) + timedelta(milliseconds=5)
        # Stopping, or the first tick before the scheduler started: the interval tick takes over.
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.add_job(
                self.tick, "date", run_date=at, id="tick-at-deadline", replace_existing=True, misfire_grace_time=None
            )

    def _advance(self) -> int:
        moved = 0
        with self.app.app_context():
            now = self.app.extensions["dispatch"].clock.now()
            while True:  # in batches, so the senders start on the first offers while the tick goes on
                try:
                    batch = advance_due(now=now, limit=TICK_BATCH)
                except Exception:
                    log.exception("tick failed; the next one will retry")
                    db.session.rollback()
                    break
                if not batch:
                    break  # nothing left that can move now (a request taken meanwhile is skipped)
                moved += batch  # its commit woke the senders, so they start on its offers at once
                if self.stopping.is_set():
                    break
            try:
                beat(now=now)  # /api/v1/health/engine and the tick's age in /metrics read it, from any process
            except Exception:
                log.exception("could not record the tick's heartbeat")
                db.session.rollback()
        return moved

    def poll_sms_statuses(self) -> int | None:
        """Ask the SMS service what became of the SMS still open, if this process leads (one asker at a time)."""
        if self.sms_poller is None or (self.leader is not None and not self.leader.held):
            return None
        with self.app.app_context():
            try:
                now = self.app.extensions["dispatch"].clock.now()
                return self.sms_poller.poll(now=now, hooks=self.app.extensions["dispatch.hooks"])
            except Exception:
                log.exception("sms status poller failed; the next poll will retry")
                db.session.rollback()
                return None

    def poll_receipts(self) -> Polled | None:
        """Read the platform's mailbox and the communities' own, and record the reports, if this process leads."""
        if self.poller is None or (self.leader is not None and not self.leader.held):
            return None  # the leader's flag, kept by the tick: no second session on the lock from this thread
        with self.app.app_context():
            try:
                runtime = self.app.extensions["dispatch"]
                return self.poller.poll(now=runtime.clock.now(), hooks=self.app.extensions["dispatch.hooks"])
            except Exception:
                log.exception("receipts poller failed; the next poll will retry")
                db.session.rollback()
                return None

    def retain(self) -> Swept | None:
        """Apply the communities' retention if this process leads and a day has passed since the last run."""
        if self.leader is not None and not self.leader.held:
            return None  # the leader's flag, kept by the tick, as for the receipts
        with self.app.app_context():
            try:
                now = self.app.extensions["dispatch"].clock.now()
                if not retention_due(now=now):
                    return None
                swept = run_retention(now=now)
            except Exception:
                log.exception("retention run failed; the next check will retry")
                db.session.rollback()
                return None
        log.info("retention applied: %s", swept)
        return swept

    def send(self) -> int:
        """Deliver what is due in the outbox."""
        from dispatch.wiring import senders

        with self.app.app_context():
            try:
                return deliver_pending(now=self.app.extensions["dispatch"].clock.now(), senders=senders(self.app))
            except Exception:
                log.exception("outbox sender failed; retrying shortly")
                db.session.rollback()
                return 0

    def _send_loop(self) -> None:
        while not self.stopping.is_set():
            self.wakeup.wait(timeout=self.safety_s)
            self.wakeup.clear()
            if self.stopping.is_set():
                return
            self.send()


def run_forever(app: Flask, **kwargs: Any) -> None:
    """Run a worker until SIGINT or SIGTERM."""
    worker = Worker(app, **kwargs)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: worker.stopping.set())
    worker.start()
    try:
        while not worker.stopping.wait(timeout=1.0):
            pass
    finally:
        worker.stop()
