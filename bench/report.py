"""Benchmark of the staff report: bulk-load requests, offers, events and syntheses, then time the report.

    python bench/report.py                          # 1,000,000 requests in a temporary SQLite file
    python bench/report.py --database-url "$PG_URL" # on PostgreSQL (the database is emptied first)
    python bench/report.py --requests 100000        # smaller

The requests of one community are spread over the year 2025 (Paris), `--years` to spread them wider
(the report still covers 2025). Each request gets its treating GP's offer when there is one, plus
`--offers` community offers, 2 to 4 events and, when seen, a synthesis. The floor is the single
`SELECT state, count(*) ... GROUP BY state` over the same rows; the goal is a report within 2x the
floor and 1 s on PostgreSQL, 3 s on SQLite. After the rows, the loader fills the report's rollups and
request columns with the backfill of migrations 0003 and 0004 (dispatch.requests.rollup_backfill.backfill), timed
apart, then runs VACUUM ANALYZE (PostgreSQL) or ANALYZE (SQLite), as autovacuum would in production.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dispatch import create_app  # noqa: E402
from dispatch.cli import upgrade_fresh  # noqa: E402
from dispatch.clock import SystemClock  # noqa: E402
from dispatch.communities.models import Community  # noqa: E402
from dispatch.db import db  # noqa: E402
from dispatch.periods import utc_bounds  # noqa: E402
from dispatch.reports.service import compute_report  # noqa: E402
from dispatch.requests.rollup_backfill import backfill  # noqa: E402

KINDS = ["cami"] * 25 + ["titulaire"] * 50 + ["remplacant"] * 30 + ["adjoint"] * 10 + ["interne"] * 5
SOURCES = (["cot"] * 70) + (["sas"] * 20) + ["samu", "pharmacy", "nurse", "emergency_dept", "other"] * 2
MOTIVES = ("infectious", "ent", "respiratory", "trauma", "digestive", "dermatology", "rheumatology", "urinary", "other")
YEAR_START = datetime(2024, 12, 31, 23, 0)  # 1 January 2025, 00:00 in Paris, as naive UTC like the columns
CHUNK = 20_000
BENCH_NAME = "CPTS banc d'essai"
TABLES = {
    "requests": (
        "id",
        "community_id",
        "state",
        "source",
        "motive",
        "opened_by_id",
        "patient_first_name",
        "patient_last_name",
        "treating_status",
        "treating_physician_id",
        "plan_exclusive_s",
        "plan_response_s",
        "opened_at",
        "exclusive_until",
        "expires_at",
        "accepted_by_id",
        "accepted_at",
        "accepted_phase",
        "outcome",
        "closed_at",
        "version",
    ),
    "offers": ("id", "request_id", "physician_id", "phase", "status", "offered_at", "responded_at"),
    "events": ("id", "request_id", "at", "type", "actor_role", "data"),
    "syntheses": ("id", "request_id", "physician_id", "text", "written_at", "status"),
}


def main() -> None:
    """Parse the options, load the rows, time the floor and the report, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL (emptied first); default: a temporary SQLite file")
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--offers", type=int, default=3, help="community offers per request (besides the treating GP)")
    parser.add_argument("--years", type=int, default=1, help="years the requests are spread over, from 2025")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="time the rows a previous run loaded at --database-url")
    args = parser.parse_args()
    workdir = tempfile.TemporaryDirectory(prefix="dispatch-bench-")
    url = args.database_url or f"sqlite:///{workdir.name}/bench.sqlite3"
    if not args.reuse:
        upgrade_fresh(url)
    app = create_app(
        {
            "DISPATCH_ENV": "development",
            "DISPATCH_DATABASE_URL": url,
            "DISPATCH_SECRET_KEY": "bench",
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 64,
        }
    )
    with app.app_context():
        if args.reuse:
            community = db.session.scalar(select(Community).where(Community.name == BENCH_NAME))
            print(f"engine: {db.engine.dialect.name}; reusing the rows already loaded")
        else:
            community, operator_id, physicians = _people(app)
            started = time.perf_counter()
            counts = _load(
                operator_id=operator_id,
                community_id=community.id,
                physicians=physicians,
                n=args.requests,
                offers=args.offers,
                years=args.years,
            )
            loaded = time.perf_counter() - started
            print(
                f"engine: {db.engine.dialect.name}; loaded {', '.join(f'{v:,} {k}' for k, v in counts.items())} in {loaded:.1f} s"
            )
        start, end = date(2025, 1, 1), date(2025, 12, 31)
        lower, upper = utc_bounds(start, end, community.timezone)
        floor_sql = text(
            "SELECT state, count(*) FROM requests WHERE community_id = :c AND opened_at >= :lo AND opened_at < :hi GROUP BY state"
        )
        params = {"c": community.id, "lo": _naive(lower), "hi": _naive(upper)}
        floor_rows = db.session.execute(floor_sql, params).all()
        floor_s = _best(lambda: db.session.execute(floor_sql, params).all(), args.repeat)
        report = compute_report(community=community, start=start, end=end)
        report_s = _best(lambda: compute_report(community=community, start=start, end=end), args.repeat)
        assert report["opened"] == sum(count for _, count in floor_rows)
        print(
            f"report over 2025: {report['opened']:,} requests, {report['accepted']:,} accepted "
            f"({report['acceptance_rate']}), median {report['time_to_accept_s']['median']} s, "
            f"{len(report['by_physician'])} physicians, {report['refusals']:,} refusals"
        )
        goal = 1.0 if db.engine.dialect.name == "postgresql" else 3.0
        print(
            f"floor (GROUP BY state): {floor_s * 1000:.0f} ms; report: {report_s * 1000:.0f} ms; "
            f"ratio {report_s / floor_s:.2f}; goal: <= {goal:.0f} s" + (" and <= 2x the floor" if goal == 1.0 else "")
        )
    workdir.cleanup()


def _best(run: Callable[[], Any], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    runs = ", ".join(f"{t * 1000:.0f}" for t in timings)
    print(f"  runs: {runs} ms (median {statistics.median(timings) * 1000:.0f})")
    return min(timings)


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)


def _people(app: Any) -> tuple[Any, int, list[tuple[int, str]]]:
    from dispatch.communities import membership, service

    now, hasher = SystemClock().now(), app.extensions["dispatch"].hasher
    community = service.create_community(
        name=BENCH_NAME, timezone="Europe/Paris", exclusive_window_s=3600, response_window_s=7200, now=now
    )
    operator, _ = membership.add_member(
        community=community, role="operator", login="operateur", password="x" * 12, name="Opérateur", now=now, ph=hasher
    )
    physicians = []
    for n, kind in enumerate(KINDS):
        rpps = next(f"1{n:09d}{d}" for d in "0123456789" if service.rpps_valid(f"1{n:09d}{d}"))
        _, physician = membership.add_member(
            community=community,
            role="physician",
            login=f"medecin{n}",
            password="x" * 12,
            name=f"Dr Médecin {n}",
            rpps=rpps,
            kind=kind,
            now=now,
            ph=hasher,
        )
        physicians.append((physician.id, kind))
    db.session.commit()
    return community, operator.id, physicians


def _load(
    *, operator_id: int, community_id: int, physicians: list[tuple[int, str]], n: int, offers: int, years: int
) -> dict[str, int]:
    """Generate the rows in chunks and write each chunk with the engine's bulk path."""
    rng = random.Random(2025)
    ids = [pid for pid, _ in physicians]
    counts = dict.fromkeys(TABLES, 0)
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        postgres = db.engine.dialect.name == "postgresql"
        for first in range(1, n + 1, CHUNK):
            rows = _generate(
                rng,
                range(first, min(n, first + CHUNK - 1) + 1),
                counts,
                operator_id=operator_id,
                community_id=community_id,
                ids=ids,
                offers=offers,
                years=years,
                total=n,
            )
            for table, values in rows.items():
                columns = TABLES[table]
                if postgres:
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in values:
                            copy.write_row(row)
                else:
                    marks = ", ".join("?" * len(columns))
                    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)
                counts[table] += len(values)
            raw.commit()
        if postgres:
            for table in TABLES:
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            raw.commit()
        started = time.perf_counter()
        with db.engine.begin() as connection:
            backfill(connection)  # the rollups and the request columns, as migrations 0003 and 0004 fill them
        print(f"  backfill of the report's rollups and columns: {time.perf_counter() - started:.1f} s")
        if postgres:
            driver = raw.driver_connection
            driver.autocommit = True  # type: ignore[union-attr]
            driver.execute("VACUUM ANALYZE")  # type: ignore[union-attr]
        else:
            cursor.execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()
    return counts


def _ts(value: datetime | None) -> str | None:
    # The text both engines accept, and the very form SQLAlchemy stores in SQLite.
    return None if value is None else value.isoformat(sep=" ", timespec="microseconds")


def _generate(
    rng: random.Random,
    ids_range: range,
    counts: dict[str, int],
    *,
    operator_id: int,
    community_id: int,
    ids: list[int],
    offers: int,
    years: int,
    total: int,
) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {table: [] for table in TABLES}
    offer_id, event_id, synthesis_id = (counts[t] + len(out[t]) for t in ("offers", "events", "syntheses"))
    # Ids follow time, as they do when requests are opened one after the other.
    step = 365 * 86400 * years / total
    for request_id in ids_range:
        opened = YEAR_START + timedelta(seconds=int((request_id - 1 + rng.random()) * step))
        draw = rng.random()
        status = "declared" if draw < 0.6 else "none" if draw < 0.76 else "unknown"
        treating = rng.choice(ids) if status == "declared" and rng.random() < 0.7 else None
        fate = rng.random()
        acceptor = tta = phase = outcome = None
        if fate < 0.75:
            if treating is not None and rng.random() < 0.35:
                acceptor, tta, phase = treating, rng.randrange(30, 3600), "exclusive"
            else:
                acceptor = rng.choice(ids)
                tta = rng.randrange(3600 if treating is not None else 30, 7200)
                phase = "community"
            draw = rng.random()
            state = outcome = "seen" if draw < 0.8 else "no_show" if draw < 0.95 else None
            state = state or "accepted"
        else:
            state = "expired" if fate < 0.95 else "cancelled" if fate < 0.98 else "community"
        accepted_at = opened + timedelta(seconds=tta) if tta is not None else None
        closed = accepted_at or (
            opened + timedelta(hours=2) if state == "expired" else opened + timedelta(minutes=20) if state == "cancelled" else None
        )
        out["requests"].append(
            (
                request_id,
                community_id,
                state,
                rng.choice(SOURCES),
                rng.choice(MOTIVES),
                operator_id,
                "Lucie",
                "Martin",
                status,
                treating,
                3600,
                7200,
                _ts(opened),
                _ts(opened + timedelta(hours=1)) if treating else None,
                _ts(opened + timedelta(hours=2)),
                acceptor,
                _ts(accepted_at),
                phase,
                outcome,
                _ts(closed),
                3,
            )
        )
        offered = [(treating, "exclusive")] if treating is not None else []
        if phase != "exclusive":
            pool = {acceptor} if acceptor is not None else set()
            while len(pool) < offers:
                pool.add(rng.choice(ids))
            offered += [(pid, "community") for pid in pool if pid != treating]
        for physician_id, offer_phase in offered:
            if physician_id == acceptor:
                answer = "accepted"
            elif rng.random() < (0.4 if physician_id == treating else 0.15):
                answer = "refused"
            else:
                answer = "notified" if state == "community" else "withdrawn"
            offer_id += 1
            out["offers"].append(
                (
                    offer_id,
                    request_id,
                    physician_id,
                    offer_phase,
                    answer,
                    _ts(opened),
                    _ts(closed) if answer != "notified" else None,
                )
            )
        for kind, at in _events(state, opened, closed, outcome):
            event_id += 1
            out["events"].append((event_id, request_id, _ts(at), kind, "system", "{}"))
        if outcome == "seen":
            synthesis_id += 1
            draw = rng.random()
            kind = (
                "not_needed"
                if acceptor == treating
                else "not_sendable"
                if status != "declared"
                else "sent"
                if draw < 0.95
                else "failed"
                if draw < 0.98
                else "pending"
            )
            out["syntheses"].append((synthesis_id, request_id, acceptor, "Synthèse.", _ts(closed), kind))
    return out


def _events(state: str, opened: datetime, closed: datetime | None, outcome: str | None) -> Iterator[tuple[str, datetime]]:
    yield "opened", opened
    if closed is not None:
        yield ("accepted" if state in ("accepted", "seen", "no_show") else state), closed
    if outcome is not None and closed is not None:
        yield outcome, closed + timedelta(hours=2)


if __name__ == "__main__":
    main()
