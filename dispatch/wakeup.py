"""Wake the outbox senders of every process: NOTIFY after a commit, LISTEN in each worker (PostgreSQL)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import Engine

from dispatch.leader import connect

log = logging.getLogger(__name__)

CHANNEL = "dispatch_outbox"


def notifier(engine: Engine) -> Callable[[], None]:
    """Return a wake function that tells every listening worker the outbox has news."""

    def notify() -> None:
        try:
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"NOTIFY {CHANNEL}")
        except Exception:  # the senders' interval still drains the outbox; a lost wake-up only delays
            log.warning("could not notify the outbox senders", exc_info=True)

    return notify


class Listener:
    """A thread holding a LISTEN session and calling `on_notify` for each notification."""

    def __init__(self, url: str, on_notify: Callable[[], None], *, poll_s: float = 1.0) -> None:
        self.url = url
        self.on_notify = on_notify
        self.poll_s = poll_s
        self.stopping = threading.Event()
        self.listening = threading.Event()
        self.thread = threading.Thread(target=self._run, name="outbox-listener", daemon=True)

    def start(self) -> None:
        """Start listening in the background."""
        self.thread.start()

    def stop(self) -> None:
        """Stop listening within `poll_s`."""
        self.stopping.set()
        self.thread.join(timeout=self.poll_s + 5)

    def _run(self) -> None:
        delay = 0.5
        while not self.stopping.is_set():
            conn: psycopg.Connection[Any] | None = None
            try:
                conn = connect(self.url, purpose="listener")
                conn.execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                self.on_notify()  # what was queued while we were not listening
                delay = 0.5
                while not self.stopping.is_set():
                    for _ in conn.notifies(timeout=self.poll_s):
                        self.on_notify()
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("outbox listener lost its connection (%s); reconnecting", exc.__class__.__name__)
                self.stopping.wait(delay)
                delay = min(delay * 2, 10.0)
            finally:
                if conn is not None:
                    conn.close()
