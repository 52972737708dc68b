"""Keep the report's copies in step: the daily rollups of offers and of requests, and the request columns."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    event,
    inspect,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.requests.states import OfferStatus

# The rollups as lightweight tables, so that the migrations that backfill do not depend on today's models.
METADATA = MetaData()  # lightweight tables, shared with the backfill
STATS = Table(
    "physician_day_stats",
    METADATA,
    Column("community_id", Integer, primary_key=True),
    Column("physician_id", Integer, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("offered", Integer),
    Column("accepted", Integer),
    Column("refused", Integer),
)
# The request rollup's group: a request's local day and the fields the report counts it by.
GROUP = ("state", "source", "motive", "treating_status", "synthesis_status", "accepted_by_treating")
REQUEST_STATS = Table(
    "request_day_stats",
    METADATA,
    Column("community_id", Integer, primary_key=True),
    Column("day", Date, primary_key=True),
    *[Column(name, String, primary_key=True) for name in GROUP[:-1]],
    Column("accepted_by_treating", Boolean, primary_key=True),
    Column("n", Integer),
)


def local_day(instant: datetime, zone: str) -> date:
    """Return the date of `instant` in the time zone `zone`: the rollup's day of a request."""
    return instant.astimezone(ZoneInfo(zone)).date()


def delay_us(opened_at: datetime, accepted_at: datetime) -> int:
    """Return the time from opening to acceptance in whole microseconds, exactly."""
    return (accepted_at - opened_at) // timedelta(microseconds=1)


def count_offers(*, community_id: int, day: date, physician_ids: list[int]) -> None:
    """Add one offer to each physician's row of the day, in one statement; the caller commits."""
    _upsert(
        [
            {"community_id": community_id, "physician_id": physician_id, "day": day, "offered": 1, "accepted": 0, "refused": 0}
            for physician_id in sorted(physician_ids)
        ]
    )


def count_answer(*, community_id: int, day: date, physician_id: int, answer: str, previous: str) -> None:
    """Record a physician's answer (`accepted`, `refused`, `released`) to an offer last `previous`; the caller commits."""
    row = {
        "community_id": community_id,
        "physician_id": physician_id,
        "day": day,
        "offered": 0,
        "accepted": int(answer == OfferStatus.ACCEPTED)
        - int(previous == OfferStatus.ACCEPTED),  # a hand-back undoes its acceptance
        "refused": int(answer == OfferStatus.REFUSED) - int(previous == OfferStatus.REFUSED),
    }
    _upsert([row])


# The columns of a request that decide its row in the request rollup (or its accept delay).
_TRACKED = (
    "community_id",
    "opened_at",
    "state",
    "source",
    "motive",
    "treating_status",
    "synthesis_status",
    "accepted_by_id",
    "treating_physician_id",
    "accepted_at",
)


def _key(values: dict[str, Any], zone: str) -> tuple[Any, ...]:
    """Return the request rollup's row of a request with these column values: community, local day, group."""
    by_treating = values["accepted_by_id"] is not None and values["accepted_by_id"] == values["treating_physician_id"]
    return (
        values["community_id"],
        local_day(values["opened_at"], zone),
        values["state"],
        values["source"],
        values["motive"],
        values["treating_status"],
        values["synthesis_status"] or "",
        by_treating,
    )


def _move_request(before: tuple[Any, ...] | None, after: tuple[Any, ...] | None) -> None:
    """Move one request from the row `before` to the row `after` (None: from or to nowhere)."""
    if before == after:
        return
    names = ("community_id", "day", *GROUP)
    rows = [{**dict(zip(names, key, strict=True)), "n": step} for key, step in ((before, -1), (after, 1)) if key is not None]
    _upsert(rows, table=REQUEST_STATS)


def _derive(session: Session, _context: Any, _instances: Any) -> None:
    """Before each flush: move every new or changed request in the request rollup, from its attribute history.

    No call site brackets a change: whatever writes a request through the session (the machine's decisions,
    the synthesis, a delivery) moves its row here. The accept delay is derived the same way.
    """
    for obj in [*session.new, *session.dirty]:
        if getattr(obj, "__tablename__", None) != "requests":
            continue
        state = inspect(obj)
        if obj in session.new:
            before = None
        else:
            old: dict[str, Any] = {}
            changed = False
            for name in _TRACKED:
                history = state.attrs[name].history
                if history.deleted:
                    old[name], changed = history.deleted[0], True
                elif history.added:
                    old[name], changed = None, True  # never loaded: set for the first time
                else:
                    old[name] = getattr(obj, name)
            if not changed:
                continue
            before = _key(old, _zone(session, obj))
        if state.attrs["accepted_at"].history.added:  # accepted, or handed back (None): the delay follows
            obj.accept_delay_us = delay_us(obj.opened_at, obj.accepted_at) if obj.accepted_at is not None else None
        _move_request(before, _key({name: getattr(obj, name) for name in _TRACKED}, _zone(session, obj)))


def _zone(session: Session, request: Any) -> str:
    """Return the time zone of the request's community (a pending request may hold only its id)."""
    community = request.community or session.get(Community, request.community_id)
    assert community is not None
    return str(community.timezone)


def _upsert(rows: list[dict[str, Any]], *, table: Table = STATS) -> None:
    """Queue the rows; they are written together, in key order, just before the transaction commits."""
    db.session.info.setdefault(_PENDING, []).extend((table.name, row) for row in rows)


_PENDING = "report_rollups_pending"
# Each rollup, in the order transactions write them (so they lock in the same order): key and counts.
_ROLLUPS = {
    STATS.name: (STATS, ("community_id", "physician_id", "day"), ("offered", "accepted", "refused")),
    REQUEST_STATS.name: (REQUEST_STATS, ("community_id", "day", *GROUP), ("n",)),
}


def install(session_factory: Any) -> None:
    """Keep the rollups with every transaction of the app's sessions (idempotent: apps share one `db`)."""
    for name, hook in (("before_flush", _derive), ("before_commit", _write_pending), ("after_rollback", _forget_pending)):
        if not event.contains(session_factory, name, hook):
            event.listen(session_factory, name, hook)


def _write_pending(session: Session) -> None:
    """Write a transaction's rollup changes, one statement per rollup, rows in key order.

    Every transaction takes the rollup rows' locks in the same order (rollup by rollup, key by key),
    so two fan-outs, a refusal and an acceptance running at once wait for each other instead of deadlocking.
    """
    session.flush()  # the commit's own flush comes after this hook: derive its moves now
    queued = session.info.pop(_PENDING, None)
    if not queued:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for name, (table, keys, counts) in _ROLLUPS.items():
        merged: dict[tuple[Any, ...], dict[str, Any]] = {}
        for _, row in (entry for entry in queued if entry[0] == name):
            into = merged.setdefault(tuple(row[k] for k in keys), {**{k: row[k] for k in keys}, **dict.fromkeys(counts, 0)})
            for count in counts:
                into[count] += row[count]
        rows = [merged[key] for key in sorted(merged) if any(merged[key][count] for count in counts)]
        if not rows:
            continue  # a move within one row, or nothing queued for this rollup
        # One statement text whatever the number of rows (compiled once, prepared by the server), sent as a
        # batch; rows keep their key order, so the locks are still taken in that order.
        session.execute(_upsert_statement(dialect, table, keys, counts), rows)


@functools.cache
def _upsert_statement(dialect: Any, table: Table, keys: tuple[str, ...], counts: tuple[str, ...]) -> Any:
    """Return the rollup's INSERT ... ON CONFLICT DO UPDATE that adds the counts, built once per dialect.

    Built once (bench/report.py and bench/run.py, 2026-12-01): one statement text whatever the number of rows,
    so the server prepares it once; compiling it per transaction cost a tenth of a fan-out's time.
    """
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={count: table.c[count] + statement.excluded[count] for count in counts}
    )


def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def discard_pending(session: Session) -> None:
    """Drop the moves this transaction queued: after a backfill recomputed the rollups from the rows."""
    session.flush()
    _forget_pending(session)
