"""Recompute the report's rollups and the request columns from the rows, set-based: the demo's loader runs it after it
writes a year of history. Migrations 0003, 0004 and 0010 keep their own frozen copy of this SQL, batched
(tests/reports/test_migration_backfill.py checks that both compute the same)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    String,
    Table,
    case,
    cast,
    false,
    func,
    insert,
    inspect,
    select,
    true,
    update,
)

from dispatch.db import UTCDateTime
from dispatch.periods import local_midnight
from dispatch.requests.rollup import GROUP, METADATA, REQUEST_STATS, STATS, local_day
from dispatch.requests.states import OfferStatus

# The rows the rollups are recomputed from, as lightweight tables: a migration does not depend on today's models.
_requests = Table(
    "requests",
    METADATA,
    Column("id", Integer),
    Column("community_id", Integer),
    Column("opened_at", UTCDateTime),
    Column("accepted_at", UTCDateTime),
    Column("accept_delay_us", BigInteger),
    Column("synthesis_status", String),
    Column("state", String),
    Column("source", String),
    Column("motive", String),
    Column("treating_status", String),
    Column("treating_physician_id", Integer),
    Column("accepted_by_id", Integer),
)
_offers = Table("offers", METADATA, Column("request_id", Integer), Column("physician_id", Integer), Column("status", String))
_syntheses = Table("syntheses", METADATA, Column("request_id", Integer), Column("status", String))
_communities = Table("communities", METADATA, Column("id", Integer), Column("timezone", String))
_days = Table(
    "report_day_starts",
    METADATA,
    Column("community_id", Integer),
    Column("day", Date),
    Column("start_at", UTCDateTime),
    Index("ix_report_day_starts", "community_id", "start_at"),
    prefixes=["TEMPORARY"],
)


def backfill(connection: Connection) -> None:
    """Recompute the rollups and the request columns from requests, offers and syntheses, set-based.

    Migration 0003 runs it before the request rollup exists (0004 creates and fills it): it then skips that one.
    """
    connection.execute(
        update(_requests).where(_requests.c.accepted_at.is_not(None)).values(accept_delay_us=_delay_sql(connection.dialect.name))
    )
    status = select(_syntheses.c.status).where(_syntheses.c.request_id == _requests.c.id).scalar_subquery()
    connection.execute(update(_requests).values(synthesis_status=status))
    connection.execute(STATS.delete())
    with_requests = inspect(connection).has_table(REQUEST_STATS.name)
    if with_requests:
        connection.execute(REQUEST_STATS.delete())
    _with_days(connection, _insert_rollup, *([_insert_request_rollup] if with_requests else []))


def backfill_requests(connection: Connection) -> None:
    """Recompute the request rollup from the requests (their columns already filled), set-based."""
    connection.execute(REQUEST_STATS.delete())
    _with_days(connection, _insert_request_rollup)


def _with_days(connection: Connection, *fills: Any) -> None:
    """Run the rollups' inserts with a temporary table of local day starts to date the requests by."""
    _days.create(connection)
    try:
        starts = _day_starts(connection)
        if starts:
            connection.execute(insert(_days), starts)
            for fill in fills:
                fill(connection)
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
    query = (
        select(_communities.c.id, _communities.c.timezone, func.min(_requests.c.opened_at), func.max(_requests.c.opened_at))
        .join(_requests, _requests.c.community_id == _communities.c.id)
        .group_by(_communities.c.id, _communities.c.timezone)
    )
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


def _request_day() -> Any:
    r, d = _requests, _days
    return (
        select(d.c.day)
        .where(d.c.community_id == r.c.community_id, d.c.start_at <= r.c.opened_at)
        .order_by(d.c.start_at.desc())
        .limit(1)
        .scalar_subquery()
    )


def _insert_request_rollup(connection: Connection) -> None:
    r = _requests
    by_treating = case((r.c.accepted_by_id == r.c.treating_physician_id, true()), else_=false())
    grouped = select(
        r.c.community_id,
        _request_day().label("day"),
        r.c.state,
        r.c.source,
        r.c.motive,
        r.c.treating_status,
        func.coalesce(r.c.synthesis_status, "").label("synthesis_status"),
        by_treating.label("accepted_by_treating"),
    ).subquery()
    columns = [grouped.c[name] for name in ("community_id", "day", *GROUP)]
    counts = select(*columns, func.count()).group_by(*columns)
    connection.execute(insert(REQUEST_STATS).from_select(["community_id", "day", *GROUP, "n"], counts))


def _insert_rollup(connection: Connection) -> None:
    r, o = _requests, _offers
    request_days = select(r.c.id, r.c.community_id, _request_day().label("day")).subquery()
    counts = (
        select(
            request_days.c.community_id,
            o.c.physician_id,
            request_days.c.day,
            func.count(),
            func.sum(case((o.c.status == OfferStatus.ACCEPTED, 1), else_=0)),
            func.sum(case((o.c.status == OfferStatus.REFUSED, 1), else_=0)),
        )
        .join(request_days, request_days.c.id == o.c.request_id)
        .group_by(request_days.c.community_id, o.c.physician_id, request_days.c.day)
    )
    connection.execute(insert(STATS).from_select(["community_id", "physician_id", "day", "offered", "accepted", "refused"], counts))
