"""On SQLite the service is one process: a second one on the same database refuses to start, and says why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dispatch.cli import upgrade
from tests.system import harness

pytestmark = pytest.mark.slow

REFUSAL = "SQLite ne permet qu'un seul processus"


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'one.sqlite3'}"
    upgrade(url)
    return harness.service_env(url)


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], env=env, cwd=harness.ROOT, capture_output=True, text=True, timeout=90)


def test_a_worker_or_gunicorn_beside_serve_is_refused(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    serve, base = harness.start_serve(sqlite_env, tmp_path)
    try:
        worker = run(["dispatch.cli", "worker"], sqlite_env)
        assert worker.returncode == 2
        assert REFUSAL in worker.stderr and f"dispatch serve (pid {serve.pid})" in worker.stderr
        assert "PostgreSQL" in worker.stderr
        assert harness.Api(base).call("GET", "/healthz")[0] == 200  # serve carries on
    finally:
        serve.stop()


def test_gunicorn_with_several_workers_on_sqlite_halts_with_the_reason(sqlite_env: dict[str, str]) -> None:
    port = harness.free_port()
    result = run(["gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--graceful-timeout", "2", "dispatch.wsgi:app"], sqlite_env)
    assert result.returncode != 0
    assert REFUSAL in result.stderr and "gunicorn" in result.stderr
