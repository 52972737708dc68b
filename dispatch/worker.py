"""The worker: the one-second tick that advances due requests, and the outbox sender."""

from __future__ import annotations

import logging
import threading
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from dispatch.db import db
from dispatch.escalation.service import advance_due
from dispatch.notify.service import deliver_pending

log = logging.getLogger(__name__)


class Worker:
    """Runs the tick on a scheduler and the sender on a thread woken after each commit."""

    def __init__(self, app: Flask, *, tick_s: float = 1.0, safety_s: float = 2.0) -> None:
        self.app = app
        self.tick_s = tick_s
        self.safety_s = safety_s
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.thread = threading.Thread(target=self._send_loop, name="outbox-sender", daemon=True)

    def start(self) -> None:
        """Start the tick and the sender, and let services wake the sender."""
        runtime = self.app.extensions["dispatch"]
        runtime.wake = self.wakeup.set
        self.scheduler.add_job(self.tick, "interval", seconds=self.tick_s, max_instances=1, coalesce=True,
                               id="tick", misfire_grace_time=None)
        self.scheduler.start()
        self.thread.start()
        self.tick()  # overdue transitions happen at once after a start

    def stop(self) -> None:
        """Stop both, letting a send in progress finish."""
        self.stopping.set()
        self.wakeup.set()
        self.scheduler.shutdown(wait=True)
        self.thread.join(timeout=30)

    def tick(self) -> int:
        """Advance every request whose deadline has passed."""
        with self.app.app_context():
            try:
                moved = advance_due(now=self.app.extensions["dispatch"].clock.now())
            except Exception:
                log.exception("tick failed; the next one will retry")
                db.session.rollback()
                return 0
        if moved:
            self.wakeup.set()
        return moved

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
    """Run a worker until interrupted."""
    worker = Worker(app, **kwargs)
    worker.start()
    try:
        worker.stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
