"""`dispatch maintenance start`, `status` and `end` as an operator runs them: real processes on the test database."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from dispatch import maintenance
from dispatch.db import db
from dispatch.events import Event
from dispatch.requests.models import Request
from tests.system.harness import ROOT, service_env

pytestmark = pytest.mark.slow


def _dispatch(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = service_env(url, DISPATCH_ENV="development")
    return subprocess.run(
        [sys.executable, "-m", "dispatch.cli", "maintenance", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_start_status_and_end_from_the_command_line(make: Any, database_url: str) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    opened = make.open(operator, community)  # dated by the test's clock, far in the past for the real one
    db.session.commit()

    assert _dispatch(database_url, "status").stdout == "Pas de maintenance en cours.\n"
    started = _dispatch(database_url, "start", "--reason", "montée de version")
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("Maintenance commencée à ")
    db.session.rollback()
    state = maintenance.current()
    assert state is not None and state.reason == "montée de version" and "@" in state.started_by

    again = _dispatch(database_url, "start")
    assert again.returncode == 1 and "Une maintenance est déjà en cours depuis" in again.stderr
    status = _dispatch(database_url, "status")
    assert status.returncode == 0 and status.stdout.startswith("Maintenance en cours depuis ")
    assert "motif : montée de version" in status.stdout

    ended = _dispatch(database_url, "end")
    assert ended.returncode == 0, ended.stderr
    assert ended.stdout.startswith("Maintenance terminée : durée perdue ")
    assert "les délais de 1 demande ouverte prolongés de " in ended.stdout
    db.session.rollback()
    assert maintenance.current() is None
    request = db.session.get(Request, opened["id"], populate_existing=True)
    moved = db.session.query(Event).filter_by(request_id=opened["id"], type="deadlines_moved").one()
    assert moved.data["reason"] == "maintenance" and moved.data["expires_at"] == request.expires_at.isoformat().replace(
        "+00:00", "Z"
    )

    refused = _dispatch(database_url, "end")
    assert refused.returncode == 1 and "Pas de maintenance en cours" in refused.stderr
    naive = _dispatch(database_url, "end", "--since", "2026-11-23T14:00:00")
    assert naive.returncode == 2 and "fuseau" in naive.stderr
