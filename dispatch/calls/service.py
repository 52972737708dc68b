"""Record a call the operator triaged without opening a request."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dispatch.calls.models import Call
from dispatch.db import db


def record_call(
    *, community_id: int, operator_id: int, source: str, outcome: str, motive: str | None, now: datetime, key: str | None = None
) -> tuple[Call, bool]:
    """Record the call once per idempotency key and commit; return it and whether it is new."""
    if key is not None:
        existing = db.session.scalar(select(Call).where(Call.operator_id == operator_id, Call.idempotency_key == key))
        if existing is not None:
            return existing, False
    call = Call(
        community_id=community_id,
        operator_id=operator_id,
        idempotency_key=key,
        received_at=now,
        source=source,
        outcome=outcome,
        motive=motive,
    )
    db.session.add(call)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # the same key raced us: answer the call the other one recorded
        existing = db.session.scalar(select(Call).where(Call.operator_id == operator_id, Call.idempotency_key == key))
        if existing is None:
            raise
        return existing, False
    return call, True
