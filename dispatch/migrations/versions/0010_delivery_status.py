"""Delivery status of secure messages read back over IMAP (issue 15)

Revision ID: 0010
Revises: 0009
"""

from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The synthesis's status gains delivered, read and refused (String(20) already holds them); it keeps the
    # Message-ID it went with, when its status last moved, and why it was refused or failed.
    with op.batch_alter_table("syntheses") as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=250), nullable=True))
        batch_op.add_column(sa.Column("status_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("status_reason", sa.String(length=500), nullable=True))
        batch_op.create_index("ix_syntheses_message_id", ["message_id"])


def downgrade() -> None:
    # Statuses only the reports set fall back to "sent", what they were before.
    op.execute("UPDATE syntheses SET status = 'sent' WHERE status IN ('delivered', 'read', 'refused')")
    op.execute("UPDATE requests SET synthesis_status = 'sent' WHERE synthesis_status IN ('delivered', 'read', 'refused')")
    with op.batch_alter_table("syntheses") as batch_op:
        batch_op.drop_index("ix_syntheses_message_id")
        for name in ("status_reason", "status_at", "message_id"):
            batch_op.drop_column(name)
    _backfill_requests(op.get_bind())


# What the downgrade recomputes (0004's request rollup), frozen as it was written (then in
# dispatch.requests.rollup_backfill): the application's copy may change, this one never does. Batched by community and
# ranges of days.
BATCH_DAYS = 31
GROUP = ("state", "source", "motive", "treating_status", "synthesis_status", "accepted_by_treating")

_meta = sa.MetaData()
_requests = sa.Table(
    "requests",
    _meta,
    sa.Column("community_id", sa.Integer),
    sa.Column("opened_at", sa.DateTime),
    sa.Column("synthesis_status", sa.String),
    sa.Column("state", sa.String),
    sa.Column("source", sa.String),
    sa.Column("motive", sa.String),
    sa.Column("treating_status", sa.String),
    sa.Column("treating_physician_id", sa.Integer),
    sa.Column("accepted_by_id", sa.Integer),
)
_communities = sa.Table("communities", _meta, sa.Column("id", sa.Integer), sa.Column("timezone", sa.String))
_request_stats = sa.Table(
    "request_day_stats",
    _meta,
    sa.Column("community_id", sa.Integer),
    sa.Column("day", sa.Date),
    *[sa.Column(name, sa.String) for name in GROUP[:-1]],
    sa.Column("accepted_by_treating", sa.Boolean),
    sa.Column("n", sa.Integer),
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


def _backfill_requests(connection: sa.Connection) -> None:
    """Recompute the requests' daily rollup from the requests (their columns already filled)."""
    connection.execute(_request_stats.delete())
    _days.create(connection)
    try:
        for community_id, zone, first, last in connection.execute(_spans()).all():
            day, end = _local_day(_aware(first), zone) - timedelta(days=1), _local_day(_aware(last), zone) + timedelta(days=1)
            starts = [{"community_id": community_id, "day": day + timedelta(days=n), "start_at": _midnight(day + timedelta(days=n), zone)}
                      for n in range((end - day).days + 1)]
            connection.execute(sa.insert(_days), starts)
            while day <= end:
                following = min(day + timedelta(days=BATCH_DAYS), end + timedelta(days=1))
                _insert_request_rollup(connection, community_id, _midnight(day, zone), _midnight(following, zone))
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


def _local_day(instant: datetime, zone: str) -> date:
    return instant.astimezone(ZoneInfo(zone)).date()


def _midnight(day: date, zone: str) -> datetime:
    """Return the naive UTC instant at which `day` begins in the time zone `zone`."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(timezone.utc).replace(tzinfo=None)


def _aware(value: Any) -> datetime:
    # min() and max() come back untyped on SQLite: text, or a naive datetime elsewhere.
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _insert_request_rollup(connection: sa.Connection, community_id: int, lower: datetime, upper: datetime) -> None:
    """Count one community's requests opened in [lower, upper) per local day and group."""
    r, d = _requests, _days
    day = (
        sa.select(d.c.day)
        .where(d.c.community_id == r.c.community_id, d.c.start_at <= r.c.opened_at)
        .order_by(d.c.start_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    by_treating = sa.case((r.c.accepted_by_id == r.c.treating_physician_id, sa.true()), else_=sa.false())
    grouped = (
        sa.select(
            r.c.community_id,
            day.label("day"),
            r.c.state,
            r.c.source,
            r.c.motive,
            r.c.treating_status,
            sa.func.coalesce(r.c.synthesis_status, "").label("synthesis_status"),
            by_treating.label("accepted_by_treating"),
        )
        .where(r.c.community_id == community_id, r.c.opened_at >= lower, r.c.opened_at < upper)
        .subquery()
    )
    columns = [grouped.c[name] for name in ("community_id", "day", *GROUP)]
    counts = sa.select(*columns, sa.func.count()).group_by(*columns)
    connection.execute(sa.insert(_request_stats).from_select(["community_id", "day", *GROUP, "n"], counts))
