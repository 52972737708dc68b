"""The engine's heartbeat: when a worker's tick last ran, kept in the database so that every web process can tell."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Model, UTCDateTime, db

TICK = "tick"


class Heartbeat(Model):
    """When a periodic job of the engine last completed (one row per job)."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


def beat(*, name: str = TICK, now: datetime) -> None:
    """Record that `name` just ran, and commit (one short statement: the tick runs every second)."""
    moved = db.session.execute(update(Heartbeat).where(Heartbeat.name == name).values(at=now))
    if moved.rowcount == 0:  # type: ignore[attr-defined]
        db.session.add(Heartbeat(name=name, at=now))
    try:
        db.session.commit()
    except IntegrityError:  # another process wrote the first beat at the same instant: theirs will do
        db.session.rollback()


def last_beat(name: str = TICK) -> datetime | None:
    """Return when `name` last ran, or None if it never did."""
    return db.session.scalar(select(Heartbeat.at).where(Heartbeat.name == name))
