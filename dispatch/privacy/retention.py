"""The daily erasure: each community's retention_days and trail_days applied in batches (GoAlert's cleanupmanager).

Run by the worker's leader once a day (`due`), and by `dispatch retention run`. Idempotent: a second run at the same
instant finds nothing left. Each batch is its own short transaction, its rows claimed with SKIP LOCKED on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, delete, func, select, update

from dispatch.audit.models import AccessRecord
from dispatch.auth.models import AccountEvent
from dispatch.communities.models import TRAIL_DAYS, Community
from dispatch.db import db
from dispatch.events import Event
from dispatch.heartbeat import beat, last_beat
from dispatch.notify.models import InboxMessage, OutboxMessage
from dispatch.privacy.erasure import erase_requests
from dispatch.requests.models import OfferLink, Request
from dispatch.requests.states import CLOSED_STATES, EventType

BATCH = 500
HEARTBEAT = "retention"
EVERY = timedelta(days=1)
# Events the report counts (reports.service._released): past trail_days they stay, emptied of their data and client.
REPORTED_EVENTS = (EventType.RELEASED.value,)
_IN_FLIGHT = ("pending", "sending")


@dataclass
class Swept:
    """What one run erased or deleted."""

    requests: int = 0  # patients erased
    trail: int = 0  # access-trail lines deleted
    events: int = 0  # events deleted (those the report counts are emptied instead)
    messages: int = 0  # messages' addresses and texts blanked
    links: int = 0  # offers' SMS links deleted
    accounts: int = 0  # account-trail lines deleted
    inbox: int = 0  # dev inbox messages deleted

    def add(self, other: Swept) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def due(*, now: datetime) -> bool:
    """Tell whether a day has passed since the last run (or none ran yet)."""
    last = last_beat(HEARTBEAT)
    return last is None or now - last >= EVERY


def run_retention(*, now: datetime, batch: int = BATCH) -> Swept:
    """Apply every community's retention now, in batches, and record the run (its heartbeat)."""
    swept = Swept()
    for community_id, retention_days, trail_days in db.session.execute(
        select(Community.id, Community.retention_days, Community.trail_days).order_by(Community.id)
    ).all():
        swept.add(
            sweep_community(community_id=community_id, retention_days=retention_days, trail_days=trail_days, now=now, batch=batch)
        )
    swept.add(_sweep_installation(now=now, batch=batch))
    beat(name=HEARTBEAT, now=now)
    return swept


def sweep_community(*, community_id: int, retention_days: int, trail_days: int, now: datetime, batch: int = BATCH) -> Swept:
    """Erase the community's patients closed retention_days ago or more, and its trail older than trail_days."""
    swept = Swept()
    closed_before = now - timedelta(days=retention_days)
    to_erase = select(Request.id).where(
        Request.community_id == community_id,
        Request.erased_at.is_(None),
        Request.state.in_(CLOSED_STATES),
        Request.closed_at <= closed_before,
    )
    swept.requests = _in_batches(to_erase, batch, lambda ids: erase_requests(ids, now=now, reason="retention"))
    cutoff = now - timedelta(days=trail_days)
    of_community = select(Request.id).where(Request.community_id == community_id)
    swept.trail = _in_batches(
        select(AccessRecord.id).where(AccessRecord.at < cutoff, AccessRecord.request_id.in_(of_community)),
        batch,
        lambda ids: _delete(AccessRecord, ids),
    )
    old_events = (Event.at < cutoff, Event.request_id.in_(of_community))
    swept.events = _in_batches(
        select(Event.id).where(*old_events, Event.type.not_in(REPORTED_EVENTS)), batch, lambda ids: _delete(Event, ids)
    )
    _in_batches(
        select(Event.id).where(*old_events, Event.type.in_(REPORTED_EVENTS), Event.client.is_not(None) | _not_empty(Event.data)),
        batch,
        lambda ids: _rowcount(update(Event).where(Event.id.in_(ids)).values(client=None, data={})),
    )
    swept.messages = _blank_messages(OutboxMessage.request_id.in_(of_community), cutoff=cutoff, batch=batch)
    swept.links = _in_batches(
        select(OfferLink.id).where(OfferLink.expires_at < cutoff, OfferLink.request_id.in_(of_community)),
        batch,
        lambda ids: _delete(OfferLink, ids),
    )
    return swept


def _sweep_installation(*, now: datetime, batch: int) -> Swept:
    """Apply the longest trail_days of all communities to what belongs to none: members' messages, accounts' trail."""
    longest = db.session.scalar(select(func.max(Community.trail_days))) or TRAIL_DAYS
    cutoff = now - timedelta(days=longest)
    swept = Swept()
    swept.messages = _blank_messages(OutboxMessage.request_id.is_(None), cutoff=cutoff, batch=batch)
    swept.accounts = _in_batches(
        select(AccountEvent.id).where(AccountEvent.at < cutoff), batch, lambda ids: _delete(AccountEvent, ids)
    )
    swept.inbox = _in_batches(
        select(InboxMessage.id).where(InboxMessage.at < cutoff), batch, lambda ids: _delete(InboxMessage, ids)
    )
    return swept


def _blank_messages(whose: Any, *, cutoff: datetime, batch: int) -> int:
    """Blank the address and text of the messages written before `cutoff` and no longer on their way."""
    query = select(OutboxMessage.id).where(
        whose,
        OutboxMessage.created_at < cutoff,
        OutboxMessage.status.not_in(_IN_FLIGHT),
        OutboxMessage.address.is_not(None) | _not_empty(OutboxMessage.payload),
    )
    return _in_batches(
        query, batch, lambda ids: _rowcount(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(address=None, payload={}))
    )


def _in_batches(query: Any, batch: int, act: Callable[[list[int]], int]) -> int:
    """Claim up to `batch` ids at a time, in order (skipping rows another transaction holds), act on them and commit."""
    done, last = 0, 0
    column = query.selected_columns[0]
    while True:
        claim = query.where(column > last).order_by(column).limit(batch).with_for_update(skip_locked=True)
        ids = list(db.session.scalars(claim))
        if not ids:
            return done
        done += act(ids)
        db.session.commit()
        last = ids[-1]
        if len(ids) < batch:
            return done


def _delete(model: Any, ids: list[int]) -> int:
    return _rowcount(delete(model).where(model.id.in_(ids)))


def _rowcount(statement: Any) -> int:
    return int(db.session.execute(statement.execution_options(synchronize_session=False)).rowcount)  # type: ignore[attr-defined]


def _not_empty(column: Any) -> Any:
    """Return the condition that a JSON column holds more than {} (compared as text: PostgreSQL's json has no `=`)."""
    return cast(column, Text) != "{}"
