"""A provider's "come back later": the Retry-After header read, and carried in a PushResult's detail.

An adapter asked to slow down appends `retry_after=<seconds>` to the comma-separated detail of its
result; the outbox reads it back with `retry_after_s` and does not try again sooner.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_S = 24 * 3600
_RETRY_AFTER = re.compile(r"(?:^|,\s*)retry_after=(\d+)")


def parse_retry_after(value: str | None, now: datetime) -> int | None:
    """Return the delay a Retry-After header asks for, in seconds (delay-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(int(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(0, int((when - now).total_seconds())), MAX_RETRY_AFTER_S)


def retry_after_s(detail: str) -> int | None:
    """Return the `retry_after=<seconds>` a PushResult.detail carries, if any."""
    match = _RETRY_AFTER.search(detail)
    return int(match.group(1)) if match else None


def with_retry_after(detail: str, seconds: int | None) -> str:
    """Return the detail with `retry_after=<seconds>` appended when a delay was asked for."""
    if seconds is None:
        return detail
    return f"{detail}, retry_after={seconds}" if detail else f"retry_after={seconds}"
