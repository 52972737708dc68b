"""Fixtures of the system tests: PostgreSQL only, an FCM peer, a clock file, gunicorn and workers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dispatch.clock import write_offset
from tests.peers.fcm import FcmPeer
from tests.system import harness


@pytest.fixture(scope="module")
def pg_url(request: pytest.FixtureRequest) -> str:
    """Return the migrated PostgreSQL test database, or skip."""
    if not os.environ.get("DISPATCH_TEST_DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("system tests need PostgreSQL (DISPATCH_TEST_DATABASE_URL=postgresql+psycopg://...)")
    url: str = request.getfixturevalue("database_url")
    harness.truncate(url)
    yield url
    harness.truncate(url)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("system-logs")


@pytest.fixture(scope="module")
def peer() -> Iterator[FcmPeer]:
    with FcmPeer() as running:
        yield running


class ClockFile:
    """The offset file every service process of the module reads (DISPATCH_CLOCK_FILE)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.offset = 0.0
        write_offset(self.path, 0)

    def jump(self, seconds: float) -> None:
        """Move every process's clock forward (effective within 100 ms)."""
        self.offset += seconds
        write_offset(self.path, self.offset)


@pytest.fixture(scope="module")
def clock_file(logs: Path) -> ClockFile:
    return ClockFile(logs / "clock-offset")


@pytest.fixture(scope="module")
def env(pg_url: str, peer: FcmPeer, clock_file: ClockFile) -> dict[str, str]:
    return harness.service_env(pg_url, fcm_url=peer.url, clock_file=clock_file.path)


@pytest.fixture(scope="module")
def web(env: dict[str, str], logs: Path) -> Iterator[harness.Api]:
    """gunicorn with three web processes on dispatch.wsgi:app."""
    process, base = harness.start_gunicorn(env, logs, workers=3)
    yield harness.Api(base)
    process.stop()


@pytest.fixture
def workers(env: dict[str, str], logs: Path, pg_url: str) -> Iterator[Callable[..., Any]]:
    """Start `dispatch worker` processes on demand; every one is stopped after the test."""
    started: list[harness.Process] = []

    def start(name: str = "worker") -> harness.Process:
        process = harness.start_worker(env, logs, pg_url, name=f"{name}-{len(started) + 1}")
        started.append(process)
        return process

    yield start
    for process in started:  # SIGTERM to all first: they wind down together
        if process.alive():
            process.popen.terminate()
    for process in started:
        process.stop()


@pytest.fixture
def fresh(pg_url: str, peer: FcmPeer) -> Iterator[None]:
    peer.reset()
    peer.latency_s = 0.0
    yield
    harness.truncate(pg_url)
