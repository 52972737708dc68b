"""The maintenance flag: one row in the database that every process reads (a leaf: imports only db and the clock).

While the row exists, the API answers 503, the pages show the maintenance page, the tick moves no request and the
sender holds every message (`dispatch maintenance start|end|status`). Web processes read the flag through a
per-process cache of `CACHE_S` (one SELECT a second at most, whatever the traffic); the tick and the sender read it
fresh, since no deadline may pass and nothing may leave once it is committed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import CheckConstraint, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from dispatch import clock
from dispatch.db import Model, UTCDateTime, db

CACHE_S = 1.0  # how stale a web process's view of the flag may be
RETRY_AFTER_S = 30  # what the API and the pages tell clients to wait before asking again
ROW = 1  # one maintenance at a time: the table holds one row or none


class Maintenance(Model):
    """The maintenance in progress, if any: when it started, who started it and why."""

    __tablename__ = "maintenance"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(String(500))


@dataclass(frozen=True)
class State:
    """A maintenance as read: a value that outlives the session."""

    started_at: datetime
    started_by: str
    reason: str | None


class AlreadyOn(Exception):
    """A maintenance is in progress already."""

    def __init__(self, state: State) -> None:
        super().__init__("maintenance already on")
        self.state = state


_READ = select(Maintenance.started_at, Maintenance.started_by, Maintenance.reason)


def current() -> State | None:
    """Return the maintenance in progress, read now in the session's transaction, or None."""
    row = db.session.execute(_READ).first()
    return State(row.started_at, row.started_by, row.reason) if row is not None else None


def start(*, now: datetime, by: str, reason: str | None) -> State:
    """Put the service in maintenance from `now` and commit; AlreadyOn when it is already."""
    state = State(now, by[:120], (reason or "").strip()[:500] or None)
    db.session.add(Maintenance(id=ROW, started_at=state.started_at, started_by=state.started_by, reason=state.reason))
    try:
        db.session.commit()
    except IntegrityError:  # the row is there: someone started it first
        db.session.rollback()
        on = current()
        if on is None:  # ended between our insert and our read: try once more
            return start(now=now, by=by, reason=reason)
        raise AlreadyOn(on) from None
    forget()
    return state


def clear() -> bool:
    """Delete the maintenance row in the caller's transaction; return whether there was one."""
    gone = db.session.execute(delete(Maintenance).where(Maintenance.id == ROW))
    return bool(gone.rowcount)  # type: ignore[attr-defined]


class _Cached:
    """A process's last reading of the flag and when it was taken (monotonic seconds)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: State | None = None
        self.read_at = float("-inf")


def cached() -> State | None:
    """Return the maintenance in progress as this process last read it, read again when older than CACHE_S."""
    holder = current_app.extensions.setdefault("dispatch.maintenance", _Cached())
    tick = clock.monotonic()
    if tick - holder.read_at < CACHE_S:
        return holder.state
    # On a connection of its own: the request's session (and its AUTOCOMMIT reads) stays untouched.
    with db.engine.connect() as connection:
        row = connection.execute(_READ).first()
    state = State(row.started_at, row.started_by, row.reason) if row is not None else None
    with holder.lock:
        holder.state, holder.read_at = state, tick
    return state


def forget() -> None:
    """Drop this process's cached reading (after it started or ended a maintenance itself)."""
    holder = current_app.extensions.get("dispatch.maintenance")
    if holder is not None:
        with holder.lock:
            holder.read_at = float("-inf")
