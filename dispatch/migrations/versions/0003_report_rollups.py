"""report rollups: per-physician daily offer counts, and the request columns the report reads

Revision ID: 0003
Revises: 0002
"""

from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "physician_day_stats",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("physician_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"],
                                name=op.f("fk_physician_day_stats_community_id_communities")),
        sa.ForeignKeyConstraint(["physician_id"], ["physicians.id"],
                                name=op.f("fk_physician_day_stats_physician_id_physicians")),
        sa.PrimaryKeyConstraint("community_id", "physician_id", "day", name=op.f("pk_physician_day_stats")),
    )
    op.add_column("requests", sa.Column("accept_delay_us", sa.BigInteger(), nullable=True))
    op.add_column("requests", sa.Column("synthesis_status", sa.String(length=20), nullable=True))
    _backfill(op.get_bind())
    op.create_index("ix_requests_community_delay", "requests", ["community_id", "accept_delay_us", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_requests_community_delay", table_name="requests")
    with op.batch_alter_table("requests") as batch_op:
        batch_op.drop_column("synthesis_status")
        batch_op.drop_column("accept_delay_us")
    op.drop_table("physician_day_stats")


# What this revision computes, frozen as it was written (then in dispatch.requests.rollup_backfill): the application's
# copy may change, this one never does. Batched: requests by ranges of ids, the rollup by community and ranges of days.
BATCH_IDS = 10_000
BATCH_DAYS = 31

_meta = sa.MetaData()
_requests = sa.Table(
    "requests",
    _meta,
    sa.Column("id", sa.Integer),
    sa.Column("community_id", sa.Integer),
    sa.Column("opened_at", sa.DateTime),
    sa.Column("accepted_at", sa.DateTime),
    sa.Column("accept_delay_us", sa.BigInteger),
    sa.Column("synthesis_status", sa.String),
)
_offers = sa.Table(
    "offers", _meta, sa.Column("request_id", sa.Integer), sa.Column("physician_id", sa.Integer), sa.Column("status", sa.String)
)
_syntheses = sa.Table("syntheses", _meta, sa.Column("request_id", sa.Integer), sa.Column("status", sa.String))
_communities = sa.Table("communities", _meta, sa.Column("id", sa.Integer), sa.Column("timezone", sa.String))
_stats = sa.Table(
    "physician_day_stats",
    _meta,
    sa.Column("community_id", sa.Integer),
    sa.Column("physician_id", sa.Integer),
    sa.Column("day", sa.Date),
    sa.Column("offered", sa.Integer),
    sa.Column("accepted", sa.Integer),
    sa.Column("refused", sa.Integer),
)
_days = sa.Table(
    "report_day_starts",
    _meta,
    sa.Column("community_id", sa.Integer),
    sa.Column("day", sa.Date),
    sa.Column("start_at", sa.DateTime),  # naive UTC, as every column of the schema
    sa.Index("ix_report_day_starts", "community_id", "start_at"),
    prefixes=["TEMPORARY"],
)


def _backfill(connection: sa.Connection) -> None:
    """Fill the request columns and the physicians' daily rollup from requests, offers and syntheses."""
    r = _requests
    bounds = connection.execute(sa.select(sa.func.min(r.c.id), sa.func.max(r.c.id))).one()
    if bounds[0] is None:
        return
    status = sa.select(_syntheses.c.status).where(_syntheses.c.request_id == r.c.id).scalar_subquery()
    for low in range(bounds[0], bounds[1] + 1, BATCH_IDS):
        in_batch = (r.c.id >= low) & (r.c.id < low + BATCH_IDS)
        connection.execute(
            sa.update(r).where(in_batch, r.c.accepted_at.is_not(None)).values(accept_delay_us=_delay_sql(connection.dialect.name))
        )
        connection.execute(sa.update(r).where(in_batch).values(synthesis_status=status))
    connection.execute(_stats.delete())
    _days.create(connection)
    try:
        for community_id, zone, first, last in connection.execute(_spans()).all():
            day, end = _local_day(_aware(first), zone) - timedelta(days=1), _local_day(_aware(last), zone) + timedelta(days=1)
            starts = [{"community_id": community_id, "day": day + timedelta(days=n), "start_at": _midnight(day + timedelta(days=n), zone)}
                      for n in range((end - day).days + 1)]
            connection.execute(sa.insert(_days), starts)
            while day <= end:
                following = min(day + timedelta(days=BATCH_DAYS), end + timedelta(days=1))
                _insert_rollup(connection, community_id, _midnight(day, zone), _midnight(following, zone))
                day = following
    finally:
        _days.drop(connection)


def _spans() -> Any:
    r, c = _requests, _communities
    return (
        sa.select(c.c.id, c.c.timezone, sa.func.min(r.c.opened_at), sa.func.max(r.c.opened_at))
        .join(r, r.c.community_id == c.c.id)
        .group_by(c.c.id, c.c.timezone)
        .order_by(c.c.id)
    )


def _delay_sql(dialect: str) -> Any:
    accepted, opened = _requests.c.accepted_at, _requests.c.opened_at
    if dialect == "postgresql":
        return sa.cast(sa.func.extract("epoch", accepted - opened) * 1_000_000, sa.BigInteger)
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds by strftime, microseconds from the text.
    whole = sa.cast(sa.func.strftime("%s", accepted), sa.Integer) - sa.cast(sa.func.strftime("%s", opened), sa.Integer)
    return whole * 1_000_000 + sa.cast(sa.func.substr(accepted, 21, 6), sa.Integer) - sa.cast(sa.func.substr(opened, 21, 6), sa.Integer)


def _local_day(instant: datetime, zone: str) -> date:
    return instant.astimezone(ZoneInfo(zone)).date()


def _midnight(day: date, zone: str) -> datetime:
    """Return the naive UTC instant at which `day` begins in the time zone `zone`."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(timezone.utc).replace(tzinfo=None)


def _aware(value: Any) -> datetime:
    # min() and max() come back untyped on SQLite: text, or a naive datetime elsewhere.
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _insert_rollup(connection: sa.Connection, community_id: int, lower: datetime, upper: datetime) -> None:
    """Count the offers of one community's requests opened in [lower, upper) per physician and local day."""
    r, o, d = _requests, _offers, _days
    day = (
        sa.select(d.c.day)
        .where(d.c.community_id == r.c.community_id, d.c.start_at <= r.c.opened_at)
        .order_by(d.c.start_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    request_days = (
        sa.select(r.c.id, r.c.community_id, day.label("day"))
        .where(r.c.community_id == community_id, r.c.opened_at >= lower, r.c.opened_at < upper)
        .subquery()
    )
    counts = (
        sa.select(
            request_days.c.community_id,
            o.c.physician_id,
            request_days.c.day,
            sa.func.count(),
            sa.func.sum(sa.case((o.c.status == "accepted", 1), else_=0)),
            sa.func.sum(sa.case((o.c.status == "refused", 1), else_=0)),
        )
        .join(request_days, request_days.c.id == o.c.request_id)
        .group_by(request_days.c.community_id, o.c.physician_id, request_days.c.day)
    )
    connection.execute(sa.insert(_stats).from_select(["community_id", "physician_id", "day", "offered", "accepted", "refused"], counts))
