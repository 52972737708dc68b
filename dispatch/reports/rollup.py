"""Keep the report's copies in step: the per-physician daily rollup and the request columns, live and in bulk."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    case,
    cast,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch.db import UTCDateTime, db
from dispatch.reports.periods import local_midnight

# Lightweight tables, so that the migration that backfills does not depend on today's models.
_meta = MetaData()
_requests = Table("requests", _meta, Column("id", Integer), Column("community_id", Integer),
                  Column("opened_at", UTCDateTime), Column("accepted_at", UTCDateTime),
                  Column("accept_delay_us", BigInteger), Column("synthesis_status", String))
_offers = Table("offers", _meta, Column("request_id", Integer), Column("physician_id", Integer),
                Column("status", String))
_syntheses = Table("syntheses", _meta, Column("request_id", Integer), Column("status", String))
_communities = Table("communities", _meta, Column("id", Integer), Column("timezone", String))
STATS = Table("physician_day_stats", _meta, Column("community_id", Integer, primary_key=True),
              Column("physician_id", Integer, primary_key=True), Column("day", Date, primary_key=True),
              Column("offered", Integer), Column("accepted", Integer), Column("refused", Integer))
_days = Table("report_day_starts", _meta, Column("community_id", Integer), Column("day", Date),
              Column("start_at", UTCDateTime), Index("ix_report_day_starts", "community_id", "start_at"),
              prefixes=["TEMPORARY"])


def local_day(instant: datetime, zone: str) -> date:
    """Return the date of `instant` in the time zone `zone`: the rollup's day of a request."""
    return instant.astimezone(ZoneInfo(zone)).date()


def delay_us(opened_at: datetime, accepted_at: datetime) -> int:
    """Return the time from opening to acceptance in whole microseconds, exactly."""
    return (accepted_at - opened_at) // timedelta(microseconds=1)


def count_offers(*, community_id: int, day: date, physician_ids: list[int]) -> None:
    """Add one offer to each physician's row of the day, in one statement; the caller commits."""
    _upsert([{"community_id": community_id, "physician_id": physician_id, "day": day, "offered": 1, "accepted": 0,
              "refused": 0} for physician_id in sorted(physician_ids)])


def count_answer(*, community_id: int, day: date, physician_id: int, answer: str, previous: str) -> None:
    """Record a physician's answer (`accepted` or `refused`) to an offer last `previous`; the caller commits."""
    row = {"community_id": community_id, "physician_id": physician_id, "day": day, "offered": 0,
           "accepted": int(answer == "accepted"), "refused": int(answer == "refused") - int(previous == "refused")}
    _upsert([row])


def _upsert(rows: list[dict[str, Any]]) -> None:
    """Queue the rows; they are written together, in key order, just before the transaction commits."""
    db.session.info.setdefault(_PENDING, []).extend(rows)


_PENDING = "physician_day_stats_pending"
_COUNTS = ("offered", "accepted", "refused")


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    """Write a transaction's rollup changes in one statement, rows in key order.

    Every transaction takes the rollup rows' locks in the same order, so two fan-outs and a refusal
    running at once wait for each other instead of deadlocking.
    """
    rows = session.info.pop(_PENDING, None)
    if not rows:
        return
    merged: dict[tuple[int, int, date], dict[str, Any]] = {}
    for row in rows:
        key = (row["community_id"], row["physician_id"], row["day"])
        into = merged.setdefault(key, {"community_id": key[0], "physician_id": key[1], "day": key[2],
                                       **dict.fromkeys(_COUNTS, 0)})
        for name in _COUNTS:
            into[name] += row[name]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(STATS).values([merged[key] for key in sorted(merged)])
    excluded = statement.excluded
    session.execute(statement.on_conflict_do_update(
        index_elements=["community_id", "physician_id", "day"],
        set_={name: STATS.c[name] + excluded[name] for name in _COUNTS}))


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def backfill(connection: Connection) -> None:
    """Recompute the rollup and the request columns from requests, offers and syntheses, set-based."""
    connection.execute(update(_requests).where(_requests.c.accepted_at.is_not(None))
                       .values(accept_delay_us=_delay_sql(connection.dialect.name)))
    status = select(_syntheses.c.status).where(_syntheses.c.request_id == _requests.c.id).scalar_subquery()
    connection.execute(update(_requests).values(synthesis_status=status))
    connection.execute(STATS.delete())
    _days.create(connection)
    try:
        starts = _day_starts(connection)
        if starts:
            connection.execute(insert(_days), starts)
            _insert_rollup(connection)
    finally:
        _days.drop(connection)


def _delay_sql(dialect: str) -> Any:
    accepted, opened = _requests.c.accepted_at, _requests.c.opened_at
    if dialect == "postgresql":
        return cast(func.extract("epoch", accepted - opened) * 1_000_000, BigInteger)
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds by strftime, microseconds from the text.
    whole = cast(func.strftime("%s", accepted), Integer) - cast(func.strftime("%s", opened), Integer)
    return whole * 1_000_000 + cast(func.substr(accepted, 21, 6), Integer) - cast(func.substr(opened, 21, 6), Integer)


def _day_starts(connection: Connection) -> list[dict[str, Any]]:
    """Return the UTC start of every local day each community's requests span, a day either side."""
    query = (select(_communities.c.id, _communities.c.timezone, func.min(_requests.c.opened_at),
                    func.max(_requests.c.opened_at))
             .join(_requests, _requests.c.community_id == _communities.c.id).group_by(_communities.c.id,
                                                                                       _communities.c.timezone))
    out: list[dict[str, Any]] = []
    for community_id, zone, first, last in connection.execute(query):
        first, last = (_aware(value) for value in (first, last))
        day, end = local_day(first, zone) - timedelta(days=1), local_day(last, zone) + timedelta(days=1)
        while day <= end:
            out.append({"community_id": community_id, "day": day, "start_at": local_midnight(day, zone)})
            day += timedelta(days=1)
    return out


def _aware(value: Any) -> datetime:
    # min() and max() come back untyped on SQLite: text, or a naive datetime elsewhere.
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _insert_rollup(connection: Connection) -> None:
    r, o, d = _requests, _offers, _days
    day = (select(d.c.day).where(d.c.community_id == r.c.community_id, d.c.start_at <= r.c.opened_at)
           .order_by(d.c.start_at.desc()).limit(1).scalar_subquery())
    request_days = select(r.c.id, r.c.community_id, day.label("day")).subquery()
    counts = (select(request_days.c.community_id, o.c.physician_id, request_days.c.day, func.count(),
                     func.sum(case((o.c.status == "accepted", 1), else_=0)),
                     func.sum(case((o.c.status == "refused", 1), else_=0)))
              .join(request_days, request_days.c.id == o.c.request_id)
              .group_by(request_days.c.community_id, o.c.physician_id, request_days.c.day))
    connection.execute(insert(STATS).from_select(["community_id", "physician_id", "day", "offered", "accepted",
                                                  "refused"], counts))
