"""The daily SMS budget of a community, taken by the sender one message at a time, in the sender's transaction."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dispatch.db import db
from dispatch.notify.models import SmsBudgetDay

OVER_BUDGET = "over_budget"  # the outbox status of an SMS the budget stopped: failed, visibly, never "sent"


def local_day(now: datetime, timezone: str) -> date:
    """Return the community's calendar day at `now` (its budget starts again at its midnight)."""
    return now.astimezone(ZoneInfo(timezone)).date()


def take(*, community_id: int, day: date, budget: int) -> bool:
    """Count one SMS against the community's budget of `day`; False, counting nothing, if the budget is spent.

    One conditional UPDATE: two senders never let more than `budget` go between them.
    """
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(SmsBudgetDay).values(community_id=community_id, day=day, used=0).on_conflict_do_nothing())
    counted = db.session.execute(
        update(SmsBudgetDay)
        .where(SmsBudgetDay.community_id == community_id, SmsBudgetDay.day == day, SmsBudgetDay.used < budget)
        .values(used=SmsBudgetDay.used + 1)
        .execution_options(synchronize_session=False)
    )
    return counted.rowcount == 1  # type: ignore[attr-defined]


def note_spent(*, community_id: int, day: date, now: datetime) -> bool:
    """Note that the community's budget of `day` ran out; True the first time only (the admin is told once)."""
    first = db.session.execute(
        update(SmsBudgetDay)
        .where(SmsBudgetDay.community_id == community_id, SmsBudgetDay.day == day, SmsBudgetDay.spent_at.is_(None))
        .values(spent_at=now)
        .execution_options(synchronize_session=False)
    )
    return first.rowcount == 1  # type: ignore[attr-defined]


def spent_today(communities: list[tuple[int, str]], *, now: datetime) -> set[int]:
    """Return those of these communities, given as (id, timezone), whose SMS budget of their local day ran out."""
    if not communities:
        return set()
    days = {community_id: local_day(now, timezone) for community_id, timezone in communities}
    rows = db.session.execute(
        select(SmsBudgetDay.community_id, SmsBudgetDay.day).where(
            SmsBudgetDay.community_id.in_(days), SmsBudgetDay.day.in_(set(days.values())), SmsBudgetDay.spent_at.is_not(None)
        )
    )
    return {community_id for community_id, day in rows if days.get(community_id) == day}
