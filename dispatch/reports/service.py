"""The figures CPTS staff audit, computed by SQL aggregates over requests, offers and syntheses.

Definitions (CONTRACT.md, "The report"), and the choices the contract leaves open:

- A request belongs to the period when its `opened_at` falls within the local days `from` to
  `to` (inclusive) in the community's time zone; months are local months too.
- `accepted` counts every request ever accepted, whatever happened next (states `accepted`,
  `seen`, `no_show`). `acceptance_rate = accepted / (opened - cancelled)`, rounded to 4
  decimals, and `null` when nothing but cancelled requests was opened: no figure rather than a
  misleading 0 %. `no_show_rate = no_show / (seen + no_show)`, `null` likewise.
- `accepted_by_treating` counts acceptances by the patient's treating GP, in whatever phase;
  `accepted_in_community` the others. `accepted_by_kind` lists every kind, zeros included, and
  sums `by_physician.accepted` (the accepting physician's offer) by kind.
- `time_to_accept_s`: median and 90th percentile (continuous, interpolated, as PostgreSQL's
  `percentile_cont`) of `accepted_at - opened_at` over accepted requests, rounded to the
  second; `null` when nothing was accepted.
- `outcomes.pending`: accepted, outcome not yet recorded.
- `refusals` and `by_physician.refused` count offers whose last answer is a refusal (a
  physician who refused and then accepted counts as accepting). `by_physician` lists every
  physician offered at least one request of the period, most acceptances first.
- `syntheses` has the contract's `sent`, `pending`, `failed`, plus `not_sendable` (no
  treating GP or no secure address) and `not_needed` (the treating GP saw the patient).
- `by_month` lists every month the period touches, empty ones included.
"""

from __future__ import annotations

from datetime import date
from math import floor
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, and_, case, func, literal_column, select, text, union_all

from dispatch.auth.models import User
from dispatch.communities.models import KINDS, Community, Physician
from dispatch.db import db
from dispatch.escalation.models import MOTIVES, SOURCES, TREATING_STATUSES, Offer, Request
from dispatch.reports.periods import Month, months, utc_bounds
from dispatch.synthesis.models import SYNTHESIS_STATUSES, Synthesis

ACCEPTED_STATES = ("accepted", "seen", "no_show")
OPEN_STATES = ("exclusive", "community")
PERCENTILES = {"median": 0.5, "p90": 0.9}
WORK_MEM = "64MB"


def compute_report(*, community: Community, start: date, end: date) -> dict[str, Any]:
    """Compute the community's report over the local days `start` to `end` inclusive."""
    lower, upper = utc_bounds(start, end, community.timezone)
    if db.engine.dialect.name == "postgresql":
        # Sort the durations and hash the joins in memory, for this transaction only.
        db.session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    in_period = and_(Request.community_id == community.id, Request.opened_at >= lower, Request.opened_at < upper)
    periods = months(start, end, community.timezone)
    totals, by_month = _request_counts(Request.community_id == community.id, periods)
    physicians = _by_physician(in_period)
    accepted, cancelled = totals["accepted"], totals["cancelled"]
    by_kind = dict.fromkeys(KINDS, 0)
    for row in physicians:
        by_kind[row["kind"]] = by_kind.get(row["kind"], 0) + row["accepted"]
    return {
        "community_id": community.id, "from": start.isoformat(), "to": end.isoformat(),
        "opened": totals["opened"], "accepted": accepted, "expired": totals["expired"], "cancelled": cancelled,
        "open": totals["open"],
        "acceptance_rate": _rate(accepted, totals["opened"] - cancelled),
        "accepted_by_treating": totals["by_treating"], "accepted_in_community": accepted - totals["by_treating"],
        "accepted_by_kind": by_kind,
        "refusals": sum(row["refused"] for row in physicians),
        "time_to_accept_s": _time_to_accept(in_period, accepted),
        "outcomes": {"seen": totals["seen"], "no_show": totals["no_show"], "pending": totals["pending"]},
        "no_show_rate": _rate(totals["no_show"], totals["seen"] + totals["no_show"]),
        "by_motive": {motive: totals[f"motive_{motive}"] for motive in MOTIVES},
        "by_source": {source: totals[f"source_{source}"] for source in SOURCES},
        "treating_physician": {status: totals[f"treating_{status}"] for status in TREATING_STATUSES},
        "syntheses": _syntheses(in_period),
        "by_physician": physicians,
        "by_month": [{"month": period.label, **by_month[index]} for index, period in enumerate(periods)],
    }


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator > 0 else None


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """Count the rows meeting `condition`: FILTER on PostgreSQL, SUM of a 0/1 comparison on SQLite (faster there)."""
    if db.engine.dialect.name == "postgresql":
        return func.count().filter(condition)
    return func.sum(condition, type_=Integer)  # typed, else the result would be read back as a boolean


def _request_counts(in_community: ColumnElement[bool], periods: list[Month]
                    ) -> tuple[dict[str, int], list[dict[str, int]]]:
    """Count the requests of the period, month by month, in one pass; sum the months here."""
    state = Request.state
    figures: dict[str, Any] = {
        "opened": func.count(), "accepted": _count(state.in_(ACCEPTED_STATES)), "expired": _count(state == "expired"),
        "cancelled": _count(state == "cancelled"), "open": _count(state.in_(OPEN_STATES)),
        "by_treating": _count(and_(state.in_(ACCEPTED_STATES),
                                   Request.accepted_by_id == Request.treating_physician_id)),
        "seen": _count(state == "seen"), "no_show": _count(state == "no_show"), "pending": _count(state == "accepted"),
    }
    figures.update({f"motive_{m}": _count(Request.motive == m) for m in MOTIVES})
    figures.update({f"source_{s}": _count(Request.source == s) for s in SOURCES})
    figures.update({f"treating_{t}": _count(Request.treating_status == t) for t in TREATING_STATUSES})
    # Months are bounded by UTC instants computed from the community's zone, so that SQLite (which
    # has no time zones) and PostgreSQL cut them alike, daylight-saving changes included.
    columns = [value.label(key) for key, value in figures.items()]
    if db.engine.dialect.name == "postgresql":
        # One (parallel) scan of the period, grouped by a CASE over the month bounds.
        last: ColumnElement[Any] = literal_column(str(len(periods) - 1))
        month = case(*[(Request.opened_at < period.end, literal_column(str(index)))
                       for index, period in enumerate(periods[:-1])], else_=last) if len(periods) > 1 else last
        query: Any = select(month.label("month_index"), *columns).where(
            in_community, Request.opened_at >= periods[0].start, Request.opened_at < periods[-1].end,
        ).group_by(text("month_index"))
    else:
        # SQLite sorts to GROUP BY: one plain aggregate per month instead, each an index range scan.
        parts = [select(literal_column(str(index)).label("month_index"), *columns)
                 .where(in_community, Request.opened_at >= period.start, Request.opened_at < period.end)
                 for index, period in enumerate(periods)]
        query = parts[0] if len(parts) == 1 else union_all(*parts)
    totals = dict.fromkeys(figures, 0)
    by_month = [{"opened": 0, "accepted": 0, "expired": 0} for _ in periods]
    for row in db.session.execute(query).mappings():
        values = {key: int(row[key] or 0) for key in figures}  # SUM over no row is NULL
        for key, value in values.items():
            totals[key] += value
        by_month[int(row["month_index"])] = {key: values[key] for key in ("opened", "accepted", "expired")}
    return totals, by_month


def _seconds_to_accept() -> ColumnElement[Any]:
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", Request.accepted_at - Request.opened_at)
    # julianday() is exact to about 50 µs: round to the millisecond so that x.5 stays x.5.
    return func.round((func.julianday(Request.accepted_at) - func.julianday(Request.opened_at)) * 86400.0, 3)


def _time_to_accept(in_period: ColumnElement[bool], accepted: int) -> dict[str, int | None]:
    """Return the median and 90th percentile of the time to accept, interpolated like percentile_cont."""
    if accepted == 0:
        return dict.fromkeys(PERCENTILES)
    seconds = _seconds_to_accept()
    where = and_(in_period, Request.state.in_(ACCEPTED_STATES))
    if db.engine.dialect.name == "postgresql":
        query = select(*[func.percentile_cont(p).within_group(seconds.cast(Float)).label(name)
                         for name, p in PERCENTILES.items()]).where(where)
        row = db.session.execute(query).mappings().one()
        return {name: _whole(row[name]) for name in PERCENTILES}
    # Elsewhere: fetch the two durations around each rank with ORDER BY ... LIMIT 2 OFFSET, from
    # whichever end is nearer, so that SQLite keeps a bounded sorter rather than sorting them all.
    out: dict[str, int | None] = {}
    for name, p in PERCENTILES.items():
        position = p * (accepted - 1)
        low = floor(position)
        high = min(low + 1, accepted - 1)
        if low < accepted - 1 - high:
            query = select(seconds).where(where).order_by(seconds).limit(high - low + 1).offset(low)
            values = list(db.session.scalars(query))
        else:
            query = select(seconds).where(where).order_by(seconds.desc()).limit(high - low + 1)
            values = list(reversed(list(db.session.scalars(query.offset(accepted - 1 - high)))))
        out[name] = _whole(values[0] + (values[-1] - values[0]) * (position - low))
    return out


def _whole(seconds: Any) -> int | None:
    return None if seconds is None else floor(float(seconds) + 0.5)


def _by_physician(in_period: ColumnElement[bool]) -> list[dict[str, Any]]:
    """Count, per physician, the requests of the period offered to them, accepted and refused."""
    counts = (select(Offer.physician_id.label("physician_id"), func.count().label("offered"),
                     func.coalesce(_count(Offer.status == "accepted"), 0).label("accepted"),
                     func.coalesce(_count(Offer.status == "refused"), 0).label("refused"))
              .join(Request, Request.id == Offer.request_id).where(in_period)
              .group_by(Offer.physician_id).subquery())
    query = (select(counts, User.name, Physician.kind).join(Physician, Physician.id == counts.c.physician_id)
             .join(User, User.id == Physician.user_id)
             .order_by(counts.c.accepted.desc(), counts.c.offered.desc(), User.name, counts.c.physician_id))
    return [{"physician_id": row.physician_id, "name": row.name, "kind": row.kind, "offered": int(row.offered),
             "accepted": int(row.accepted), "refused": int(row.refused)} for row in db.session.execute(query)]


def _syntheses(in_period: ColumnElement[bool]) -> dict[str, int]:
    """Count the syntheses of the period's requests by status."""
    query = (select(Synthesis.status, func.count()).join(Request, Request.id == Synthesis.request_id)
             .where(in_period).group_by(Synthesis.status))
    out = dict.fromkeys(SYNTHESIS_STATUSES, 0)
    for status, count in db.session.execute(query):
        out[status] = int(count)
    return {key: out.pop(key) for key in ("sent", "pending", "failed")} | out
