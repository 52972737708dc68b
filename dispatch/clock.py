"""The only place that reads the system clock; everything else receives `now`."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(timezone.utc)


class SystemClock:
    """Clock reading the system time; tests replace it with a controllable one."""

    def now(self) -> datetime:
        """Return the current time, aware, in UTC."""
        return utcnow()
