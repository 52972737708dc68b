"""The only place that reads the system clock; everything else receives `now`."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta

# Test-only: a file holding an offset in seconds added to the system time, so a test can move a
# running process past a deadline (as GoAlert's system tests do). Never set it in production.
CLOCK_FILE_ENV = "DISPATCH_CLOCK_FILE"
REREAD_S = 0.1


class _FileOffset:
    """The offset read from DISPATCH_CLOCK_FILE, re-read at most every 100 ms."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.offset = 0.0
        self.read_at = float("-inf")

    def seconds(self) -> float:
        """Return the current offset in seconds (0 without a file)."""
        if not self.path:
            return 0.0
        with self.lock:
            tick = time.monotonic()
            if tick - self.read_at >= REREAD_S:
                self.read_at = tick
                try:
                    with open(self.path, encoding="ascii") as handle:
                        self.offset = float(handle.read().strip() or 0)
                except (OSError, ValueError):
                    pass  # keep the last offset while a test rewrites the file
            return self.offset


_offset = _FileOffset(os.environ.get(CLOCK_FILE_ENV))


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    now = datetime.now(UTC)
    shift = _offset.seconds()
    return now + timedelta(seconds=shift) if shift else now


def system_now() -> datetime:
    """Return the machine's own time, never shifted: what APScheduler plans its jobs against."""
    return datetime.now(UTC)


def monotonic() -> float:
    """Return a monotonic reading in seconds, for measuring durations."""
    return time.monotonic()


def write_offset(path: str, seconds: float) -> None:
    """Set the offset a process started with DISPATCH_CLOCK_FILE=path will add (tests only)."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="ascii") as handle:
        handle.write(f"{seconds:.3f}\n")
    os.replace(temporary, path)  # atomic: a reader never sees a half-written number


class SystemClock:
    """Clock reading the system time; tests replace it with a controllable one."""

    def now(self) -> datetime:
        """Return the current time, aware, in UTC."""
        return utcnow()
