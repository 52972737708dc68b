"""The backfills frozen into migrations 0003, 0004 and 0010 compute, batch by batch, what the application's backfill
computes from the same rows: the request columns and both daily rollups."""

from __future__ import annotations

import contextlib
import importlib.util
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from alembic import command
from flask import current_app
from sqlalchemy import create_engine, inspect, make_url, select, text

from dispatch.cli import MIGRATIONS, alembic_config
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.requests.rollup import REQUEST_STATS, STATS
from dispatch.requests.rollup_backfill import backfill


def _migration(name: str) -> ModuleType:
    """Load one migration's module from its file, as Alembic does (it is no package's module)."""
    spec = importlib.util.spec_from_file_location(f"migration_{name}", MIGRATIONS / "versions" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _state() -> dict[str, Any]:
    """Return the request columns and both rollups, as sets of rows."""
    connection = db.session.connection()
    return {
        "columns": set(connection.execute(text("SELECT id, accept_delay_us, synthesis_status FROM requests"))),
        "physicians": set(connection.execute(select(STATS))),
        "requests": set(connection.execute(select(REQUEST_STATS))),
    }


def _forget(*, columns: bool) -> None:
    """Empty the rollups (and the request columns) the way a database before 0003 has none of them."""
    connection = db.session.connection()
    connection.execute(STATS.delete())
    connection.execute(REQUEST_STATS.delete())
    if columns:
        connection.execute(text("UPDATE requests SET accept_delay_us = NULL, synthesis_status = NULL"))


@pytest.fixture
def history(make: Any, seed: Any) -> None:
    """Two communities in two time zones, requests over 70 days across a change of time, offers and syntheses."""
    paris = make.community("CPTS Paris")
    reunion = make.community("CPTS Réunion")
    db.session.get(Community, reunion.id).timezone = "Indian/Reunion"
    db.session.commit()
    for community in (paris, reunion):
        gp, other = make.member(community, "physician"), make.member(community, "physician")
        start = datetime(2026, 3, 1, 22, 59, 59, 999_999, tzinfo=UTC)  # Paris' midnight is at 23:00 UTC until the 29th
        for day in range(0, 70, 3):
            opened = start + timedelta(days=day, hours=day % 5)
            seed.request(community, opened, state="expired", treating=gp, offers={gp: "refused", other: "notified"})
            seed.request(
                community,
                opened + timedelta(microseconds=2),
                state="seen",
                treating=gp,
                accepted_by=other if day % 2 else gp,
                after_s=75.250001 + day,
                offers={gp: "refused" if day % 2 else "accepted", other: "accepted" if day % 2 else "withdrawn"},
                synthesis=("sent", "failed", "delivered")[day % 3],
            )
            seed.request(community, opened + timedelta(hours=20), state="cancelled", source="sas", motive="fever")


def test_the_frozen_backfills_compute_what_the_application_computes(history: None, monkeypatch: pytest.MonkeyPatch) -> None:
    backfill(db.session.connection())
    db.session.commit()
    expected = _state()
    assert len(expected["physicians"]) > 40 and len(expected["requests"]) > 60

    m0003, m0004, m0010 = (_migration(name) for name in ("0003_report_rollups", "0004_request_day_stats", "0010_delivery_status"))
    for module, batches in ((m0003, {"BATCH_IDS": 7, "BATCH_DAYS": 4}), (m0004, {"BATCH_DAYS": 5}), (m0010, {"BATCH_DAYS": 9})):
        for name, size in batches.items():
            monkeypatch.setattr(module, name, size)  # small batches: many of them, cut across communities and days

    _forget(columns=True)
    m0003._backfill(db.session.connection())
    m0004._backfill_requests(db.session.connection())
    db.session.commit()
    assert _state() == expected

    _forget(columns=False)  # 0010's downgrade recomputes the request rollup alone
    db.session.connection().execute(STATS.insert(), [row._asdict() for row in expected["physicians"]])
    m0010._backfill_requests(db.session.connection())
    db.session.commit()
    assert _state() == expected


def test_upgrading_a_database_with_requests_fills_the_rollups_as_the_application_does(
    history: None, database_url: str, tmp_path: Path
) -> None:
    """The real path on a copy of the test database: down to 0002 (no rollup, no request column), then up to head."""
    if not database_url.startswith("sqlite"):
        pytest.skip("a copy of the database: SQLite's backup of the file")
    backfill(db.session.connection())
    db.session.commit()
    expected = _state()
    copy = tmp_path / "copy.sqlite3"
    original = str(make_url(database_url).database)
    with contextlib.closing(sqlite3.connect(original)) as source, contextlib.closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    config = alembic_config(f"sqlite:///{copy}")
    # The clinical text is encrypted (0026): going back below it needs the key, as `dispatch db upgrade` gives it.
    config.attributes["dispatch.data_key"] = current_app.config["DISPATCH_DATA_KEY"]
    command.downgrade(config, "0002")
    engine = create_engine(f"sqlite:///{copy}")
    try:
        with engine.connect() as connection:
            assert not inspect(connection).has_table("physician_day_stats")
            assert connection.execute(text("SELECT count(*) FROM requests")).scalar() == len(expected["columns"])
        command.upgrade(config, "head")
        with engine.connect() as connection:
            assert {
                "columns": set(connection.execute(text("SELECT id, accept_delay_us, synthesis_status FROM requests"))),
                "physicians": set(connection.execute(select(STATS))),
                "requests": set(connection.execute(select(REQUEST_STATS))),
            } == expected
    finally:
        engine.dispose()
