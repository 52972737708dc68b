"""An account's trail, for the admin: who changed which contact of whose account (before, after), who sent which
link to which contact, who deactivated or reactivated it. Contacts are kept as they were, since the admin judges by
them; nothing about patients is ever written here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from dispatch.auth.models import AccountEvent, User
from dispatch.db import db

# What a line says happened to the account.
ACTIONS = ("created", "edited", "link", "deactivated", "reactivated", "password_changed")
# The fields of an edit the trail keeps before and after (the contacts a link or a synthesis goes to, and the name).
FIELDS = ("name", "phone", "email", "mssante")


def note(*, user_id: int, by: User | None, at: datetime, action: str, data: dict[str, Any] | None = None) -> AccountEvent:
    """Add a line to the account's trail in the caller's transaction."""
    assert action in ACTIONS, action
    event = AccountEvent(
        user_id=user_id,
        actor_id=by.id if by is not None else None,
        actor_role=(by.role[:20] if by is not None else None),
        at=at,
        action=action,
        data=data or {},
    )
    db.session.add(event)
    return event


def note_edit(*, user_id: int, by: User | None, at: datetime, field: str, before: str | None, after: str | None) -> AccountEvent:
    """Add the change of one field of the account (before and after) to its trail, in the caller's transaction."""
    return note(user_id=user_id, by=by, at=at, action="edited", data={"field": field, "before": before, "after": after})


def last_change(*, user_id: int, field: str, to: str, since: datetime) -> AccountEvent | None:
    """Return the latest edit since `since` that set the account's `field` to `to` (compared without case), if any."""
    query = (
        select(AccountEvent)
        .where(AccountEvent.user_id == user_id, AccountEvent.action == "edited", AccountEvent.at >= since)
        .order_by(AccountEvent.id.desc())
    )
    for event in db.session.scalars(query):
        after = event.data.get("after")
        if event.data.get("field") == field and isinstance(after, str) and after.lower() == to.lower():
            return event
    return None


def account_trail(*, user_ids: Any, limit: int, before: int | None = None) -> list[dict[str, Any]]:
    """Return the trail of these accounts (a list of ids, or a select of them), newest first, with who acted."""
    actor = aliased(User)
    holder = aliased(User)
    query = (
        select(AccountEvent, holder.name, actor.name)
        .join(holder, holder.id == AccountEvent.user_id)
        .outerjoin(actor, actor.id == AccountEvent.actor_id)
        .where(AccountEvent.user_id.in_(user_ids))
        .order_by(AccountEvent.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(AccountEvent.id < before)
    return [
        {
            "id": event.id,
            "at": event.at,
            "action": event.action,
            "user": {"id": event.user_id, "name": holder_name},
            "by": None if event.actor_id is None else {"id": event.actor_id, "name": actor_name, "role": event.actor_role},
            "data": dict(event.data or {}),
        }
        for event, holder_name, actor_name in db.session.execute(query)
    ]
