"""A community's rules per profession: the windows of its requests and their waves by distance.

Copied onto each request when it opens (dispatch.requests.opening), so that an edit never changes a running request.
A physician's windows are the community's own (`PATCH /communities/{id}` and `PUT .../rules/10` both set them);
another profession's are its row, or the defaults (dispatch.professions.DEFAULT_RULES), or else the community's windows
with no wave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from dispatch.auth.models import User
from dispatch.communities.models import Community, ProfessionRule
from dispatch.db import db
from dispatch.professions import CODES, DEFAULT_RULES, PHYSICIAN


@dataclass(frozen=True)
class Rule:
    """One profession's rules, as GET /communities/{id}/rules answers them."""

    profession: str
    exclusive_s: int
    response_s: int
    waves: tuple[dict[str, Any], ...] = ()

    def as_data(self) -> dict[str, Any]:
        return {
            "profession": self.profession,
            "exclusive_s": self.exclusive_s,
            "response_s": self.response_s,
            "waves": [dict(wave) for wave in self.waves],
        }


def _rows(community_id: int) -> dict[str, ProfessionRule]:
    query = select(ProfessionRule).where(ProfessionRule.community_id == community_id)
    return {row.profession: row for row in db.session.scalars(query)}


def _rule(community: Community, profession: str, row: ProfessionRule | None) -> Rule:
    if profession == PHYSICIAN:
        waves = tuple(row.waves) if row is not None else ()
        return Rule(profession, community.exclusive_window_s, community.response_window_s, waves)
    if row is not None:
        return Rule(profession, row.exclusive_s, row.response_s, tuple(row.waves))
    default = DEFAULT_RULES.get(profession)
    if default is not None:
        exclusive_s, response_s, steps = default
        return Rule(profession, exclusive_s, response_s, tuple({"after_s": a, "radius_km": r} for a, r in steps))
    return Rule(profession, community.exclusive_window_s, community.response_window_s)


def rules_of(community: Community) -> list[Rule]:
    """Return the community's rules for every profession, in the order of their codes."""
    rows = _rows(community.id)
    return [_rule(community, profession, rows.get(profession)) for profession in CODES]


def rule_for(community: Community, profession: str) -> Rule:
    """Return the rules a request of this profession opens with in the community (one read)."""
    row = db.session.scalar(
        select(ProfessionRule).where(ProfessionRule.community_id == community.id, ProfessionRule.profession == profession)
    )
    return _rule(community, profession, row)


def set_rule(
    *,
    community: Community,
    profession: str,
    exclusive_s: int,
    response_s: int,
    waves: list[dict[str, Any]],
    by: User,
    now: datetime,
) -> Rule:
    """Set one profession's rules for the requests opened from now on, and commit (a physician's windows are the
    community's own)."""
    row = db.session.scalar(
        select(ProfessionRule).where(ProfessionRule.community_id == community.id, ProfessionRule.profession == profession)
    )
    if row is None:
        row = ProfessionRule(community_id=community.id, profession=profession)
        db.session.add(row)
    row.exclusive_s, row.response_s, row.waves = exclusive_s, response_s, [dict(wave) for wave in waves]
    row.updated_at, row.updated_by_id = now, by.id
    if profession == PHYSICIAN:
        community.exclusive_window_s, community.response_window_s = exclusive_s, response_s
    db.session.commit()
    return _rule(community, profession, row)
