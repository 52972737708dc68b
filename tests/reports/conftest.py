"""A seeder that writes requests, offers and syntheses straight through the models, at exact instants.

The report's copies (rollup, request columns) are then filled by the migration's backfill.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from dispatch.db import db
from dispatch.requests.models import Offer, Request, Synthesis
from dispatch.requests.rollup import discard_pending
from dispatch.requests.rollup_backfill import backfill


class Seeder:
    """Write one request with its offers and synthesis, every field given by the test."""

    def __init__(self, make: Any) -> None:
        self.make = make
        self.operators: dict[int, Any] = {}

    def request(
        self,
        community: Any,
        opened_at: datetime,
        *,
        state: str = "expired",
        source: str = "cot",
        motive: str = "ent",
        treating: Any = None,
        treating_status: str | None = None,
        accepted_by: Any = None,
        after_s: float | None = None,
        phase: str = "community",
        offers: dict[Any, str] | None = None,
        synthesis: str | None = None,
    ) -> Request:
        if community.id not in self.operators:
            self.operators[community.id] = self.make.member(community, "operator")
        accepted_at = opened_at + timedelta(seconds=after_s) if after_s is not None else None
        request = Request(
            community_id=community.id,
            state=state,
            source=source,
            motive=motive,
            opened_by_id=self.operators[community.id].id,
            patient_first_name="Lucie",
            patient_last_name="Martin",
            patient_phone="+33612345678",
            treating_status=treating_status or ("declared" if treating is not None else "none"),
            treating_physician_id=treating.id if treating is not None else None,
            treating_name="Dr Traitant",
            plan_exclusive_s=3600,
            plan_response_s=7200,
            opened_at=opened_at,
            expires_at=opened_at + timedelta(hours=2),
            accepted_by_id=accepted_by.id if accepted_by else None,
            accepted_at=accepted_at,
            accepted_phase=phase if accepted_by else None,
            outcome=state if state in ("seen", "no_show") else None,
        )
        db.session.add(request)
        db.session.flush()
        for physician, status in (offers or {}).items():
            db.session.add(
                Offer(request_id=request.id, physician_id=physician.id, phase="community", status=status, offered_at=opened_at)
            )
        if synthesis is not None:
            db.session.add(
                Synthesis(
                    request_id=request.id,
                    physician_id=accepted_by.id,
                    text="Otite, amoxicilline.",
                    written_at=opened_at + timedelta(hours=3),
                    status=synthesis,
                )
            )
        db.session.flush()
        backfill(db.session.connection())
        discard_pending(db.session())  # the backfill counted these rows already
        db.session.commit()
        return request


@pytest.fixture
def seed(make: Any) -> Seeder:
    return Seeder(make)
