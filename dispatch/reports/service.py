"""The figures CPTS staff audit, computed by SQL aggregates over requests and the daily rollup of offers.

Definitions (CONTRACT.md, "The report"), and the choices the contract leaves open:

- A request belongs to the period when its `opened_at` falls within the local days `from` to
  `to` (inclusive) in the community's time zone; months are local months too.
- `accepted` counts every request ever accepted, whatever happened next (states `accepted`,
  `seen`, `no_show`). `acceptance_rate = accepted / (opened - cancelled)`, rounded to 4
  decimals, and `null` when nothing but cancelled requests was opened: no figure rather than a
  misleading 0 %. `no_show_rate = no_show / (seen + no_show)`, `null` likewise.
- `accepted_by_treating` counts acceptances by the patient's treating GP, in whatever phase;
  `accepted_in_community` the others. `accepted_by_kind` lists every kind, zeros included, and
  sums `by_physician.accepted` (the accepting physician's offer) by kind, physicians (profession 10) only.
- `time_to_accept_s`: median and 90th percentile (continuous, interpolated, as PostgreSQL's
  `percentile_cont`) of `accepted_at - opened_at` over accepted requests, rounded to the
  second; `null` when nothing was accepted.
- `outcomes.pending`: accepted, outcome not yet recorded.
- `refusals` and `by_physician.refused` count offers whose last answer is a refusal (a
  physician who refused and then accepted counts as accepting). `by_physician` lists every
  physician offered at least one request of the period, most acceptances first.
- `syntheses` has the contract's `sent`, `pending`, `failed`, plus `delivered`, `read`, `refused`,
  `not_sendable` (no treating GP or no secure address) and `not_needed` (the treating GP saw the patient).
  What the platform's mailbox reads back (dispatch/notify/receiving.py) decides the last word on each:
  `sent` counts the syntheses the platform's MSSanté operator took and that no report since says refused
  or failed; of those, `delivered` the ones whose arrival a report confirms (a delivery report, or the GP's
  software processed it) and `read` the ones a read receipt came back for (read ⊆ delivered ⊆ sent);
  `refused` the ones the GP's software refused or deleted unread; `failed` the ones never sent or bounced.
  pending + sent + refused + failed + not_sendable + not_needed = the syntheses written.
- `by_month` lists every month the period touches, empty ones included.
- `by_profession` (per profession code with a request or an offer in the period: the request figures, `offered`,
  `refusals`, `time_to_accept_s`, the rates) and `acceptance_by_distance` (per band of the accepted offer's
  distance): see dispatch/reports/per_profession.py.

How: the request-level figures sum the rollup `request_day_stats` (requests per local day and group of
state, source, motive, treating status, synthesis status, accepted by the treating GP) over the period's
local days, months being unions of local days; the percentiles walk an index of the integer
`accept_delay_us`; `by_physician` sums the rollup `physician_day_stats` over the same days (see
dispatch/requests/rollup.py for how the copies are kept in step).
"""

from __future__ import annotations

from datetime import date, datetime
from fractions import Fraction
from math import floor
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, func, literal_column, or_, select, text

from dispatch.auth.models import User
from dispatch.calls.models import CALL_OUTCOMES, Call
from dispatch.communities.models import KINDS, Community, Physician
from dispatch.db import UTCDateTime, db
from dispatch.periods import Month, months, utc_bounds
from dispatch.professions import PHYSICIAN
from dispatch.reports.models import PhysicianDayStats, RequestDayStats
from dispatch.reports.per_profession import profession_figures
from dispatch.requests.models import (
    CALLBACK_RESULTS,
    MOTIVES,
    SOURCES,
    SYNTHESIS_STATUSES,
    TREATING_STATUSES,
    Event,
    Request,
)
from dispatch.requests.states import OPEN_STATES, OUTCOMES, State

ACCEPTED_STATES = (State.ACCEPTED, *OUTCOMES)
PERCENTILES = {"median": Fraction(1, 2), "p90": Fraction(9, 10)}
MICROSECONDS = 1_000_000
_WALK = (
    "SELECT accept_delay_us FROM requests INDEXED BY ix_requests_community_delay WHERE community_id = :community"
    " AND accept_delay_us IS NOT NULL AND opened_at >= :lower AND opened_at < :upper ORDER BY accept_delay_us"
)
_WALK_UP, _WALK_DOWN = _WALK + " LIMIT :count OFFSET :offset", _WALK + " DESC LIMIT :count OFFSET :offset"
_WALK_COUNT = (
    "SELECT count(*) FROM requests INDEXED BY ix_requests_community_delay WHERE community_id = :community"
    " AND accept_delay_us IS NOT NULL"
)
WORK_MEM = "64MB"


def compute_report(*, community: Community, start: date, end: date) -> dict[str, Any]:
    """Compute the community's report over the local days `start` to `end` inclusive."""
    lower, upper = utc_bounds(start, end, community.timezone)
    if db.engine.dialect.name == "postgresql":
        # Sort the durations and hash the joins in memory, for this transaction only.
        db.session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    periods = months(start, end, community.timezone)
    totals, by_month, by_regulation = _request_counts(community.id, periods)
    physicians = _by_physician(community.id, start, end)
    released = _released(community.id, lower, upper)
    for row in physicians:
        row["released"] = released.get(row["physician_id"], 0)
    accepted, cancelled = totals["accepted"], totals["cancelled"]
    by_kind = dict.fromkeys(KINDS, 0)
    for row in physicians:  # the statuses are the physicians' (titulaire, CAMI...): other professions have none
        if row.get("profession", PHYSICIAN) == PHYSICIAN:
            by_kind[row["kind"]] = by_kind.get(row["kind"], 0) + row["accepted"]
    return {
        "community_id": community.id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "opened": totals["opened"],
        "accepted": accepted,
        "expired": totals["expired"],
        "cancelled": cancelled,
        "open": totals["open"],
        "acceptance_rate": _rate(accepted, totals["opened"] - cancelled),
        "accepted_by_treating": totals["by_treating"],
        "accepted_in_community": accepted - totals["by_treating"],
        "accepted_by_kind": by_kind,
        "refusals": sum(row["refused"] for row in physicians),
        "time_to_accept_s": _time_to_accept(community.id, lower, upper, accepted),
        "outcomes": {"seen": totals["seen"], "no_show": totals["no_show"], "pending": totals["pending"]},
        "no_show_rate": _rate(totals["no_show"], totals["seen"] + totals["no_show"]),
        "by_motive": {motive: totals[f"motive_{motive}"] for motive in MOTIVES},
        "by_source": {source: totals[f"source_{source}"] for source in SOURCES},
        "by_regulation": by_regulation,
        "treating_physician": {status: totals[f"treating_{status}"] for status in TREATING_STATUSES},
        "syntheses": _syntheses(totals),
        "by_physician": physicians,
        "by_month": [{"month": period.label, **by_month[index]} for index, period in enumerate(periods)],
        **profession_figures(community_id=community.id, lower=lower, upper=upper, start=start, end=end),
        **_calls_and_callbacks(community.id, lower, upper),
    }


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator > 0 else None


REGULATION_FIGURES = ("opened", "accepted", "expired", "cancelled", "open", "seen", "no_show")


def _request_counts(
    community_id: int, periods: list[Month]
) -> tuple[dict[str, int], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Sum the request rollup over the period's local days, by month and group, then add the groups up here.

    The months are unions of local days; every figure is a sum of groups, of which a year holds a few thousand
    (rows at 0 add nothing).
    """
    stats = RequestDayStats
    last: ColumnElement[Any] = literal_column(str(len(periods) - 1))
    month = (
        case(*[(stats.day <= period.last, literal_column(str(index))) for index, period in enumerate(periods[:-1])], else_=last)
        if len(periods) > 1
        else last
    )
    dimensions = (
        month.label("month_index"),
        stats.state,
        stats.source,
        stats.motive,
        stats.treating_status,
        stats.synthesis_status,
        stats.accepted_by_treating,
    )
    query = (
        select(*dimensions, func.sum(stats.n).label("n"))
        .where(stats.community_id == community_id, stats.day >= periods[0].first, stats.day <= periods[-1].last)
        .group_by(*[text(str(position)) for position in range(1, len(dimensions) + 1)])
    )
    keys = [
        "opened",
        "accepted",
        "expired",
        "cancelled",
        "open",
        "by_treating",
        "seen",
        "no_show",
        "pending",
        *[f"motive_{m}" for m in MOTIVES],
        *[f"source_{s}" for s in SOURCES],
        *[f"treating_{t}" for t in TREATING_STATUSES],
        *[f"synthesis_{s}" for s in SYNTHESIS_STATUSES],
    ]
    totals = dict.fromkeys(keys, 0)
    by_month: list[dict[str, Any]] = [{"opened": 0, "accepted": 0, "expired": 0, "cancelled": 0} for _ in periods]
    # SAS-regulated requests apart from the others (the SNP supplement is paid on the former), from the same groups.
    by_regulation: dict[str, dict[str, Any]] = {group: dict.fromkeys(REGULATION_FIGURES, 0) for group in ("sas", "other")}
    for index, state, source, motive, treating, synthesis, treating_accepted, n in db.session.execute(query):
        n = int(n)
        accepted = state in ACCEPTED_STATES
        flags = {
            "opened": True,
            "accepted": accepted,
            "expired": state == "expired",
            "cancelled": state == "cancelled",
            "open": state in OPEN_STATES,
            "by_treating": accepted and bool(treating_accepted),
            "seen": state == "seen",
            "no_show": state == "no_show",
            "pending": state == "accepted",
            f"motive_{motive}": True,
            f"source_{source}": True,
            f"treating_{treating}": True,
            f"synthesis_{synthesis}": True,
        }
        for key, hit in flags.items():
            if hit and key in totals:
                totals[key] += n
        for key in ("opened", "accepted", "expired", "cancelled"):
            by_month[int(index)][key] += n if flags[key] else 0
        regulation = by_regulation["sas" if source == "sas" else "other"]
        for key in REGULATION_FIGURES:
            regulation[key] += n if flags[key] else 0
    for figures in (*by_month, *by_regulation.values()):  # the same rate as the period's: every screen shows this one
        figures["acceptance_rate"] = _rate(figures["accepted"], figures["opened"] - figures["cancelled"])
    return totals, by_month, by_regulation


def _time_to_accept(community_id: int, lower: datetime, upper: datetime, accepted: int) -> dict[str, int | None]:
    """Return the median and 90th percentile of the time to accept, interpolated like percentile_cont.

    The two durations around each rank come from ORDER BY accept_delay_us LIMIT 2 OFFSET rank, from
    whichever end is nearer, best along the index (community_id, accept_delay_us, opened_at): no sort.
    """
    if accepted == 0:
        return dict.fromkeys(PERCENTILES)
    out: dict[str, int | None] = {}
    walk = _walk_delay_index(community_id, accepted)
    for name, p in PERCENTILES.items():
        position = p * (accepted - 1)
        low = floor(position)
        high = min(low + 1, accepted - 1)
        if low < accepted - 1 - high:
            values = _delays(community_id, lower, upper, ascending=True, offset=low, count=high - low + 1, walk=walk)
        else:
            values = _delays(
                community_id, lower, upper, ascending=False, offset=accepted - 1 - high, count=high - low + 1, walk=walk
            )[::-1]
        exact = values[0] + (values[-1] - values[0]) * (position - low)  # microseconds, as a fraction
        out[name] = floor(exact / MICROSECONDS + Fraction(1, 2))
    return out


def _delays(
    community_id: int, lower: datetime, upper: datetime, *, ascending: bool, offset: int, count: int, walk: bool
) -> list[int]:
    if walk:  # SQLAlchemy writes no index hint for SQLite: the same query, with the index named
        sql = text(_WALK_UP if ascending else _WALK_DOWN).bindparams(
            bindparam("lower", type_=UTCDateTime), bindparam("upper", type_=UTCDateTime)
        )
        return list(
            db.session.scalars(sql, {"community": community_id, "lower": lower, "upper": upper, "count": count, "offset": offset})
        )
    delay = Request.accept_delay_us
    query = select(delay).where(
        Request.community_id == community_id, delay.is_not(None), Request.opened_at >= lower, Request.opened_at < upper
    )
    return list(db.session.scalars(query.order_by(delay if ascending else delay.desc()).limit(count).offset(offset)))


def _walk_delay_index(community_id: int, accepted: int) -> bool:
    """Say whether SQLite should walk the index of durations rather than sort the period's.

    Walking (community_id, accept_delay_us, opened_at) reads the community's every acceptance but sorts
    nothing; SQLite would rather sort the period's (ten times slower per row), so walk when the period
    holds at least an eighth of them. PostgreSQL's planner weighs both from its statistics.
    """
    if db.engine.dialect.name != "sqlite":
        return False
    total = db.session.scalar(text(_WALK_COUNT), {"community": community_id})
    return accepted * 8 >= (total or 0)


def _by_physician(community_id: int, start: date, end: date) -> list[dict[str, Any]]:
    """Sum, per physician, the rollup's offers, acceptances and refusals over the local days of the period."""
    stats = PhysicianDayStats
    counts = (
        select(
            stats.physician_id.label("physician_id"),
            func.sum(stats.offered).label("offered"),
            func.sum(stats.accepted).label("accepted"),
            func.sum(stats.refused).label("refused"),
        )
        .where(stats.community_id == community_id, stats.day >= start, stats.day <= end)
        .group_by(stats.physician_id)
        .having(func.sum(stats.offered) > 0)
        .subquery()
    )
    query = (
        select(counts, User.name, Physician.kind, Physician.profession)
        .join(Physician, Physician.id == counts.c.physician_id)
        .join(User, User.id == Physician.user_id)
        .order_by(counts.c.accepted.desc(), counts.c.offered.desc(), User.name, counts.c.physician_id)
    )
    return [
        {
            "physician_id": row.physician_id,
            "name": row.name,
            "kind": row.kind,
            "profession": row.profession,
            "offered": int(row.offered),
            "accepted": int(row.accepted),
            "refused": int(row.refused),
        }
        for row in db.session.execute(query)
    ]


def _syntheses(totals: dict[str, int]) -> dict[str, int]:
    """Return the syntheses of the period's requests by status, from the request counts (read ⊆ delivered ⊆ sent)."""
    n = {status: totals[f"synthesis_{status}"] for status in SYNTHESIS_STATUSES}
    return {
        "sent": n["sent"] + n["delivered"] + n["read"],
        "pending": n["pending"],
        "failed": n["failed"],
        "delivered": n["delivered"] + n["read"],
        "read": n["read"],
        "refused": n["refused"],
        "not_sendable": n["not_sendable"],
        "not_needed": n["not_needed"],
    }


def _released(community_id: int, lower: datetime, upper: datetime) -> dict[int, int]:
    """Count, per physician, the hand-backs of the period's requests (their `released` events)."""
    query = (
        select(Physician.id, func.count())
        .select_from(Event)
        .join(Request, Request.id == Event.request_id)
        .join(Physician, Physician.user_id == Event.actor_id)
        .where(
            Event.type == "released", Request.community_id == community_id, Request.opened_at >= lower, Request.opened_at < upper
        )
        .group_by(Physician.id)
    )
    return {physician_id: int(n) for physician_id, n in db.session.execute(query)}


def _calls_and_callbacks(community_id: int, lower: datetime, upper: datetime) -> dict[str, Any]:
    """Return the period's calls (each request counts its call, a relaunch none) and the call-backs of its requests.

    A call without a request belongs to the period by when it was received; `callbacks.pending` counts expired
    requests nobody called back yet.
    """
    without = dict.fromkeys(CALL_OUTCOMES, 0)
    calls = (
        select(Call.outcome, func.count())
        .where(Call.community_id == community_id, Call.received_at >= lower, Call.received_at < upper)
        .group_by(Call.outcome)
    )
    for outcome, n in db.session.execute(calls):
        without[outcome] = int(n)
    in_period = (Request.community_id == community_id, Request.opened_at >= lower, Request.opened_at < upper)
    with_request = db.session.scalar(select(func.count()).select_from(Request).where(*in_period, Request.relaunch_of_id.is_(None)))
    callbacks = dict.fromkeys((*CALLBACK_RESULTS, "pending"), 0)
    rows = db.session.execute(
        select(Request.callback_result, func.count())
        .where(*in_period, or_(Request.callback_result.is_not(None), Request.state == State.EXPIRED))
        .group_by(Request.callback_result)
    )
    for result, n in rows:
        callbacks[result or "pending"] = int(n)
    received = int(with_request or 0) + sum(without.values())
    return {
        "calls": {"received": received, "with_request": int(with_request or 0), "without_request": without},
        "callbacks": callbacks,
    }
