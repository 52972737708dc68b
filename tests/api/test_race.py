"""First acceptance wins, exactly once, when many physicians press Accept together."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from dispatch.db import db
from dispatch.requests.models import Event, Offer


def test_many_threads_accepting_one_request_exactly_one_wins(make: Any, app: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    physicians = [make.member(community, "physician") for _ in range(12)]
    headers = [make.headers(p) for p in physicians]
    at = (clock.now() + timedelta(minutes=30)).isoformat()
    for _round in range(5):
        opened = make.open(operator, community)
        barrier = threading.Barrier(len(physicians))
        statuses: list[tuple[int, str | None]] = []
        lock = threading.Lock()

        def press(
            index: int,
            request_id: int = opened["id"],
            barrier: threading.Barrier = barrier,
            lock: Any = lock,
            statuses: list[tuple[int, str | None]] = statuses,
        ) -> None:
            client = app.test_client()
            barrier.wait()
            response = client.post(f"/api/v1/requests/{request_id}/accept", headers=headers[index], json={"appointment_at": at})
            with lock:
                statuses.append((response.status_code, (response.get_json() or {}).get("code")))

        threads = [threading.Thread(target=press, args=(i,)) for i in range(len(physicians))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        counts = Counter(statuses)
        assert counts[(200, None)] == 1, counts
        assert counts[(409, "already_accepted")] == len(physicians) - 1, counts
        accepted_events = db.session.scalar(
            select(func.count()).select_from(Event).where(Event.request_id == opened["id"], Event.type == "accepted")
        )
        assert accepted_events == 1
        accepted_offers = db.session.scalar(
            select(func.count()).select_from(Offer).where(Offer.request_id == opened["id"], Offer.status == "accepted")
        )
        assert accepted_offers == 1
