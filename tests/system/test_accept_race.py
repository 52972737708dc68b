"""Fifty physicians accept one request at once through gunicorn: exactly one wins, a hundred times over."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.system import harness

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.usefixtures("fresh")]

PHYSICIANS = 50
ROUNDS = 100


def test_fifty_simultaneous_accepts_have_exactly_one_winner(web: harness.Api, pg_url: str) -> None:
    world = harness.seed_world(pg_url, physicians=PHYSICIANS)
    barrier = threading.Barrier(PHYSICIANS + 1)
    current: dict[str, Any] = {}
    answers: list[list[tuple[int, str | None, int | None]]] = [[] for _ in range(ROUNDS)]
    lock = threading.Lock()

    def physician(member: harness.Member) -> None:
        for round_no in range(ROUNDS):
            barrier.wait(timeout=60)  # all fifty fire together once the request is open
            status, body = web.call(
                "POST", f"/requests/{current['id']}/accept", member.token, {"appointment_at": current["appointment_at"]}
            )
            winner = body.get("accepted_by", {}).get("physician_id") if status == 200 else None
            with lock:
                answers[round_no].append((status, (body or {}).get("code"), winner))
            barrier.wait(timeout=60)

    threads = [threading.Thread(target=physician, args=(m,), daemon=True) for m in world.physicians]
    for thread in threads:
        thread.start()
    for _ in range(ROUNDS):
        status, opened = web.call("POST", "/requests", world.operator.token, world.request_body())
        assert status == 201, opened
        appointment = datetime.fromisoformat(opened["opened_at"]) + timedelta(minutes=30)
        current.update(id=opened["id"], appointment_at=appointment.isoformat())
        barrier.wait(timeout=60)
        barrier.wait(timeout=120)
    for thread in threads:
        thread.join(timeout=10)

    for round_no, round_answers in enumerate(answers):
        statuses = Counter(status for status, _, _ in round_answers)
        assert statuses == {200: 1, 409: PHYSICIANS - 1}, (round_no, statuses)
        assert {code for status, code, _ in round_answers if status == 409} == {"already_accepted"}
    accepted = harness.query(
        pg_url,
        "SELECT count(*), count(DISTINCT accepted_by_id) FROM requests WHERE state = 'accepted' AND community_id = :c",
        c=world.community_id,
    )
    assert accepted[0][0] == ROUNDS
    events = harness.query(
        pg_url, "SELECT request_id, count(*) FROM events WHERE type = 'accepted' GROUP BY request_id HAVING count(*) <> 1"
    )
    assert events == []
