"""Who may run the tick: one leader by PostgreSQL advisory lock, or the single process on SQLite."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Any

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# Key of the advisory lock held by the worker that runs the tick ("SNPD" in ASCII).
TICK_LOCK_KEY = 0x534E5044
_held_files: list[IO[str]] = []  # SQLite process locks, held until the process ends


def is_postgresql(url: str) -> bool:
    """Say whether a SQLAlchemy URL names a PostgreSQL database."""
    return make_url(url).get_backend_name() == "postgresql"


def libpq_conninfo(url: str) -> str:
    """Return the libpq connection string of a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def connect(url: str, *, purpose: str) -> psycopg.Connection[Any]:
    """Open a dedicated autocommit connection, named after this process in pg_stat_activity."""
    return psycopg.connect(
        libpq_conninfo(url),
        autocommit=True,
        connect_timeout=5,
        application_name=f"dispatch-{purpose}-{os.getpid()}",
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=3,
    )


class TickLeader:
    """Holds the tick's advisory lock on a dedicated session; the lock ends with the session."""

    def __init__(self, url: str, *, key: int = TICK_LOCK_KEY) -> None:
        self.url = url
        self.key = key
        self.conn: psycopg.Connection[Any] | None = None
        self.held = False

    def is_leader(self) -> bool:
        """Try to be (or check that this process still is) the leader; never blocks on the lock."""
        try:
            if self.conn is None or self.conn.closed:
                self.conn, self.held = connect(self.url, purpose="worker"), False
            if self.held:
                self.conn.execute("SELECT 1")  # the session lives, so the lock is still ours
                return True
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            self.held = bool(row and row[0])
            if self.held:
                log.info("this worker (pid %s) now runs the tick", os.getpid())
            return self.held
        except psycopg.Error as exc:
            if self.held:
                log.warning("lost the tick leadership: %s", exc.__class__.__name__)
            self.release()
            return False

    def release(self) -> None:
        """Give the leadership up by closing the session that holds the lock."""
        conn, self.conn, self.held = self.conn, None, False
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error):
                conn.close()


class SingleProcessError(RuntimeError):
    """Another process of the service already runs on this SQLite database."""


def hold_sqlite(url: str, *, role: str) -> None:
    """On SQLite, take the one-process lock beside the database file, or raise SingleProcessError."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(f"{parsed.database}.process-lock")
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 -- kept open: the lock lives with it
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "un autre processus"
        handle.close()
        raise SingleProcessError(
            f"SQLite ne permet qu'un seul processus : {holder} utilise déjà la base {parsed.database} "
            f"(et y fait tourner l'échéancier et l'envoi des messages). Refus de démarrer {role}. "
            "Pour plusieurs processus (gunicorn -w N, dispatch worker), passez à PostgreSQL : "
            "DISPATCH_DATABASE_URL=postgresql+psycopg://... (voir docs/production.md)."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{role} (pid {os.getpid()})\n")
    handle.flush()
    _held_files.append(handle)
