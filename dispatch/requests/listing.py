"""Listing requests: the use case behind `GET /requests` and the requester's page, the policy deciding which ones.

Operators, coordinators and the admin list their communities' requests; a requester lists only those they opened.
Every full view listed is a line of the access trail (`disclosure.show_many`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from dispatch import policy
from dispatch.auth.models import User
from dispatch.db import db
from dispatch.requests import disclosure
from dispatch.requests.models import Request


def list_requests(
    *,
    user: User,
    now: datetime,
    client: str | None,
    community_id: int | None = None,
    state: str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """Return the requests the user may list, newest first, as they may see them (403 if they may list none)."""
    listing = policy.require_listing(user)
    query = select(Request).order_by(Request.id.desc()).limit(limit)
    if listing.community_ids is not None:
        query = query.where(Request.community_id.in_(listing.community_ids))
    if listing.opened_by is not None:
        query = query.where(Request.opened_by_id == listing.opened_by)
    if community_id is not None:
        query = query.where(Request.community_id == community_id)
    if state is not None:
        query = query.where(Request.state == state)
    if before is not None:
        query = query.where(Request.id < before)
    return disclosure.show_many(user, db.session.scalars(query).unique(), what="list", now=now, client=client)
