"""A returning patient: the community's requests of the last 30 days for the same phone, or the same name and birth date.

Names are compared normalised (case, accents, spaces, hyphens and apostrophes left out), phones in E.164. The read
is bounded by the (community, opened_at) index and narrowed in SQL by the phone or the birth date; the names are
compared here, on the few rows left.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from dispatch.auth.models import User
from dispatch.db import db
from dispatch.requests import disclosure
from dispatch.requests.models import Request

WINDOW = timedelta(days=30)
LIMIT = 50  # a patient who called more often than this in 30 days is shown their 50 latest requests
_SCANNED = 500  # rows of the same phone or birth date read at most (a department's month holds ~3,000 requests)
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ı": "i"})


def normalized_name(text: str | None) -> str:
    """Return a name as compared: no case, no accents, no spaces or punctuation ('Le Guen-Hervé' → 'leguenherve')."""
    folded = unicodedata.normalize("NFKD", (text or "").casefold().translate(_LIGATURES))
    return "".join(c for c in folded if c.isalnum() and not unicodedata.combining(c))


@dataclass(frozen=True)
class Patient:
    """Who the operator is typing in: a phone in E.164, and/or first name, last name and birth date."""

    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None

    @property
    def identity(self) -> tuple[str, str, date] | None:
        """Return the normalised names and the birth date, when all three are there."""
        first, last = normalized_name(self.first_name), normalized_name(self.last_name)
        return (first, last, self.birth_date) if first and last and self.birth_date else None


@dataclass(frozen=True)
class Match:
    """One earlier request of the patient, and what matched: 'phone', 'identity' or both."""

    request: Request
    matched_by: tuple[str, ...]


def recent_requests(*, community_id: int, patient: Patient, now: datetime) -> list[Match]:
    """Return the community's requests of the last 30 days for this patient, newest first (at most LIMIT)."""
    identity = patient.identity
    conditions = []
    if patient.phone:
        conditions.append(Request.patient_phone == patient.phone)
    if identity is not None:
        conditions.append(Request.patient_birth_date == identity[2])
    if not conditions:
        return []
    query = (
        select(Request)
        .where(Request.community_id == community_id, Request.opened_at >= now - WINDOW, Request.opened_at <= now, or_(*conditions))
        .order_by(Request.opened_at.desc(), Request.id.desc())
        .limit(_SCANNED)
    )
    found: list[Match] = []
    for request in db.session.scalars(query):
        matched = []
        if patient.phone and request.patient_phone == patient.phone:
            matched.append("phone")
        if identity is not None and (
            request.patient_birth_date == identity[2]
            and normalized_name(request.patient_first_name) == identity[0]
            and normalized_name(request.patient_last_name) == identity[1]
        ):
            matched.append("identity")
        if matched:
            found.append(Match(request, tuple(matched)))
            if len(found) == LIMIT:
                break
    return found


def shown(user: User, *, community_id: int, patient: Patient, now: datetime, client: str | None) -> list[dict[str, Any]]:
    """Return the patient's recent requests as the user may see them, with what matched; full views are recorded."""
    matches = recent_requests(community_id=community_id, patient=patient, now=now)
    matched_by = {m.request.id: list(m.matched_by) for m in matches}
    return disclosure.show_many(
        user,
        [m.request for m in matches],
        what="returning",
        now=now,
        client=client,
        extra=lambda r: {"matched_by": matched_by[r.id]},
    )
