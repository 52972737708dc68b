"""The database keeps every status column to the domain's enums (migration 0013), whatever writes to it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from dispatch.db import db
from dispatch.requests.states import STATES, CallbackResult, OfferStatus, SynthesisStatus


def _opened(make: Any) -> tuple[int, Any]:
    community = make.community()
    operator = make.member(community, "operator")
    physician = make.member(community, "physician")
    return make.open(operator, community)["id"], physician


@pytest.mark.parametrize(
    ("statement", "valid"),
    [
        ("UPDATE requests SET state = :value WHERE id = :id", STATES),
        ("UPDATE requests SET outcome = :value WHERE id = :id", ("seen", "no_show")),
        ("UPDATE requests SET accepted_phase = :value WHERE id = :id", ("exclusive", "community")),
        ("UPDATE requests SET synthesis_status = :value WHERE id = :id", tuple(SynthesisStatus)),
        ("UPDATE requests SET callback_result = :value WHERE id = :id", tuple(CallbackResult)),
        ("UPDATE offers SET status = :value WHERE request_id = :id", tuple(OfferStatus)),
        ("UPDATE offers SET phase = :value WHERE request_id = :id", ("exclusive", "community")),
    ],
)
def test_a_status_outside_its_enum_is_refused_by_the_database(make: Any, statement: str, valid: tuple[str, ...]) -> None:
    request_id, _ = _opened(make)
    for value in valid:  # every member of the enum is accepted (then rolled back)
        db.session.execute(text(statement), {"value": str(value), "id": request_id})
        db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(text(statement), {"value": "bogus", "id": request_id})
        db.session.flush()
    db.session.rollback()


def test_a_synthesis_status_outside_its_enum_is_refused(make: Any) -> None:
    request_id, physician = _opened(make)
    physician_id = physician.id
    insert = text("INSERT INTO syntheses (request_id, physician_id, text, written_at, status) VALUES (:r, :p, 'x', :at, :status)")
    with pytest.raises(IntegrityError):
        db.session.execute(insert, {"r": request_id, "p": physician_id, "at": make.clock.now(), "status": "lost"})
    db.session.rollback()
