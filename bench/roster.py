"""Bench of issue 23, point 5: a roster import of 2,000 rows, against a floor measured in the same run.

The import goes through its use case (batches of 50, invitations queued, no password hash) on a fresh database;
the floor is the same 2,000 accounts written bare in one statement (what the database needs at least). Meanwhile a
thread signs in again and again: its worst latency during the import is printed against its latency at rest.

    .venv/bin/python bench/roster.py [--postgres URL] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from dispatch import create_app  # noqa: E402
from dispatch.auth import service as auth  # noqa: E402
from dispatch.auth.models import User  # noqa: E402
from dispatch.cli import upgrade_fresh  # noqa: E402
from dispatch.clock import utcnow  # noqa: E402
from dispatch.communities import membership  # noqa: E402
from dispatch.communities import service as communities  # noqa: E402
from dispatch.db import db  # noqa: E402
from tests.conftest import TEST_SETTINGS, _truncate  # noqa: E402

ROWS = 2000
PASSWORD = "bench-password-2026"


def rows(prefix: str) -> list[dict[str, Any]]:
    return [
        {"role": "operator", "login": f"{prefix}{n:05d}", "name": f"Membre {n}", "email": f"{prefix}{n:05d}@cpts.example.fr"}
        for n in range(ROWS)
    ]


def measure(url: str) -> dict[str, float]:
    """Return the import's time, the floor's, and the sign-in latencies at rest and during the import (seconds)."""
    upgrade_fresh(url)
    # Production's argon2 costs (the settings' defaults): the sign-in thread pays them as a user would.
    settings = {k: v for k, v in TEST_SETTINGS.items() if not k.startswith("ARGON2_")}
    app = create_app({**settings, "DISPATCH_DATABASE_URL": url})
    with app.app_context():
        now = utcnow()
        community = communities.create_community(
            name="CPTS Bench", timezone="Europe/Paris", exclusive_window_s=3600, response_window_s=7200, now=now
        )
        hasher = app.extensions["dispatch"].hasher
        by = auth.create_user(login="coordination", password=PASSWORD, name="Coord", role="coordinator", now=now, ph=hasher)
        db.session.commit()
        started = time.monotonic()
        db.session.execute(insert(User), [{**r, "password_hash": None, "active": True, "created_at": now} for r in rows("floor")])
        db.session.commit()
        floor = time.monotonic() - started

        client = app.test_client()
        body = {"login": "coordination", "password": PASSWORD}
        at_rest = []
        for _ in range(5):
            began = time.monotonic()
            assert client.post("/api/v1/auth/token", json=body).status_code == 200
            at_rest.append(time.monotonic() - began)
        during: list[float] = []
        done = threading.Event()

        def sign_ins() -> None:
            while not done.is_set():
                began = time.monotonic()
                status = client.post("/api/v1/auth/token", json=body).status_code
                assert status == 200, status
                during.append(time.monotonic() - began)

        thread = threading.Thread(target=sign_ins)
        thread.start()
        started = time.monotonic()
        membership.import_members(
            community=community, members=rows("m"), now=now, ph=hasher, by=by, public_url="https://snp.example.fr"
        )
        took = time.monotonic() - started
        done.set()
        thread.join()
        _truncate()
        db.session.remove()
        db.engine.dispose()
    app.extensions["dispatch"].ports.close()
    return {"import": took, "floor": floor, "rest": max(at_rest), "during": max(during), "sign_ins": len(during)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("DISPATCH_BENCH_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    engines: dict[str, str] = {}
    if not args.no_sqlite:
        engines["SQLite"] = f"sqlite:///{Path(tempfile.mkdtemp(prefix='dispatch-roster-')) / 'bench.sqlite3'}"
    if args.postgres:
        engines["PostgreSQL"] = args.postgres
    print("| figure | " + " | ".join(engines) + " |")
    print("|---|" + "---|" * len(engines))
    figures = {name: measure(url) for name, url in engines.items()}
    print(
        f"| roster import, {ROWS:,} rows: time / floor (bare insert of as many accounts) | "
        + " | ".join(
            f"{f['import']:.2f} s / {f['floor'] * 1000:.0f} ms = {f['import'] / f['floor']:.0f} ×" for f in figures.values()
        )
        + " |"
    )
    print(
        "| sign-in during the import: worst / at rest (sign-ins made) | "
        + " | ".join(f"{f['during'] * 1000:.0f} / {f['rest'] * 1000:.0f} ms ({f['sign_ins']:.0f})" for f in figures.values())
        + " |"
    )


if __name__ == "__main__":
    main()
