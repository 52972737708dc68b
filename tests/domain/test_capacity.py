"""The floating slot's rule (machine.capacity), at exact instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatch.requests.machine import capacity

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
END = T0 + timedelta(hours=4)


@pytest.mark.parametrize(
    ("declared", "accepted", "now", "left"),
    [
        (2, 0, T0, 2),
        (2, 1, T0 + timedelta(hours=1), 1),
        (2, 2, END - timedelta(seconds=1), 0),
        (2, 3, END - timedelta(seconds=1), 0),  # an offer already on the phone may still be taken: never below 0
        (2, 2, END, None),  # lapsed at its end, that instant included
        (2, 0, END + timedelta(seconds=1), None),
        (None, 0, T0, None),
    ],
)
def test_left(declared: int | None, accepted: int, now: datetime, left: int | None) -> None:
    assert capacity.left(capacity=declared, until=END if declared else None, accepted=accepted, now=now) == left


@pytest.mark.parametrize(
    ("until", "refused"),
    [
        (T0, True),
        (T0 + timedelta(seconds=1), False),
        (T0 + timedelta(hours=24), False),
        (T0 + timedelta(hours=24, seconds=1), True),
        (T0 - timedelta(minutes=1), True),
    ],
)
def test_until_window(until: datetime, refused: bool) -> None:
    assert (capacity.until_refusal(until, now=T0) is not None) is refused
