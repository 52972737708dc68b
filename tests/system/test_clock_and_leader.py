"""The test-only clock file, the tick's advisory lock, and the wake-up by NOTIFY, in one process."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatch import clock
from dispatch.leader import TickLeader
from dispatch.wakeup import Listener


def test_the_clock_file_shifts_the_time_and_is_reread_at_most_every_100_ms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "offset")
    readings = iter([1000.0, 1000.05, 1000.2])
    monkeypatch.setattr(clock.time, "monotonic", lambda: next(readings))
    offset = clock._FileOffset(path)
    clock.write_offset(path, 3600)
    assert offset.seconds() == 3600.0
    clock.write_offset(path, 7200.5)
    assert offset.seconds() == 3600.0  # 50 ms later: not re-read yet
    assert offset.seconds() == 7200.5  # 200 ms later


def test_without_a_clock_file_the_offset_is_zero_and_a_garbled_file_keeps_the_last_one(tmp_path: Path) -> None:
    assert clock._FileOffset(None).seconds() == 0.0
    path = tmp_path / "offset"
    offset = clock._FileOffset(str(path))
    assert offset.seconds() == 0.0  # no file yet
    clock.write_offset(str(path), 90)
    offset.read_at = float("-inf")
    assert offset.seconds() == 90.0
    path.write_text("not a number")
    offset.read_at = float("-inf")
    assert offset.seconds() == 90.0


def test_utcnow_adds_the_offset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "offset")
    clock.write_offset(path, 86400)
    monkeypatch.setattr(clock, "_offset", clock._FileOffset(path))
    shifted = clock.utcnow()
    monkeypatch.setattr(clock, "_offset", clock._FileOffset(None))
    assert timedelta(hours=23, minutes=59) < shifted - clock.utcnow() <= timedelta(days=1)
    assert shifted.tzinfo is UTC or shifted.utcoffset() == timedelta(0)
    assert isinstance(shifted, datetime)


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get("DISPATCH_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (DISPATCH_TEST_DATABASE_URL=postgresql+psycopg://...)")
    return url


@pytest.mark.postgres
def test_one_leader_at_a_time_and_the_lock_ends_with_its_session(pg_url: str) -> None:
    first, second = TickLeader(pg_url, key=0x7E57), TickLeader(pg_url, key=0x7E57)
    try:
        assert first.is_leader() is True
        assert second.is_leader() is False
        assert first.is_leader() is True  # still ours on the next tick
        assert first.conn is not None
        first.conn.close()  # the session ends, as when the leader's process is killed
        deadline = time.monotonic() + 5
        while not second.is_leader():
            assert time.monotonic() < deadline, "the lock outlived its session"
            time.sleep(0.05)
        assert first.is_leader() is False
    finally:
        first.release()
        second.release()


@pytest.mark.postgres
def test_a_notify_wakes_a_listener_in_milliseconds(pg_url: str) -> None:
    from sqlalchemy import create_engine

    from dispatch.wakeup import notifier

    woken = threading.Event()
    listener = Listener(pg_url, woken.set, poll_s=0.2)
    engine = create_engine(pg_url)
    try:
        listener.start()
        assert listener.listening.wait(10)
        time.sleep(0.3)
        woken.clear()  # the listener wakes once on connecting, for what was queued before
        started = time.monotonic()
        notifier(engine)()
        assert woken.wait(5)
        assert time.monotonic() - started < 0.5
    finally:
        listener.stop()
        engine.dispose()
