"""Use cases of the access trail: record reads of a patient's identity, list them for a request."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import insert, select

from dispatch.audit.models import AccessRecord
from dispatch.auth.models import User
from dispatch.db import db

# What was read: the full request, a list, an answer to an action, the synthesis document.
# "returning": the operator typed a patient in and was shown their requests of the last 30 days.
KINDS = (
    "request",
    "list",
    "offers",
    "accept",
    "refuse",
    "cancel",
    "outcome",
    "synthesis_pdf",
    "release",
    "callback",
    "returning",
    # A data subject's requests (GDPR), each line with the coordinator's or operator's reference.
    "subject_access",
    "subject_erasure",
    "rectification",
)


def _now(now: datetime | None) -> datetime:
    # Edges pass the instant they read once; a caller that did not gets the app's injected clock.
    return now if now is not None else current_app.extensions["dispatch"].clock.now()  # type: ignore[no-any-return]


def record_access(request_id: int, *, user: User, what: str, client: str | None, now: datetime | None = None) -> None:
    """Record that `user` was shown the identity of the request's patient, and commit."""
    record_accesses([request_id], user=user, what=what, client=client, now=now)


def note_access(request_id: int, *, user: User, what: str, client: str | None, now: datetime) -> AccessRecord:
    """Add a read of the patient's identity to the caller's transaction: written if, and when, it commits."""
    record = AccessRecord(
        request_id=request_id,
        user_id=user.id,
        role=(user.role or "?")[:20],
        what=what[:40],
        at=now,
        client=(client or "")[:200] or None,
    )
    db.session.add(record)
    return record


def record_accesses(request_ids: Iterable[int], *, user: User, what: str, client: str | None, now: datetime | None = None) -> None:
    """Record one read per request shown, in a single insert, and commit."""
    at = _now(now)
    rows = [
        {
            "request_id": request_id,
            "user_id": user.id,
            "role": (user.role or "?")[:20],
            "what": what[:40],
            "at": at,
            "client": (client or "")[:200] or None,
        }
        for request_id in dict.fromkeys(request_ids)
    ]
    if not rows:
        return
    db.session.execute(insert(AccessRecord), rows)
    db.session.commit()


def list_accesses(*, request_id: int, limit: int, before: int | None = None) -> list[dict[str, Any]]:
    """Return the reads of a request's patient identity, newest first."""
    query = (
        select(AccessRecord, User)
        .join(User, User.id == AccessRecord.user_id)
        .where(AccessRecord.request_id == request_id)
        .order_by(AccessRecord.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(AccessRecord.id < before)
    return [
        {
            "id": record.id,
            "at": record.at,
            "what": record.what,
            "client": record.client,
            "reference": record.reference,
            "user": {"id": user.id, "name": user.name, "role": record.role},
        }
        for record, user in db.session.execute(query)
    ]
