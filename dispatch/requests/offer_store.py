"""The one place that writes offers, and counts each write in the physicians' daily rollup in the same call.

Offers are written with set-based statements (a fan-out reaches ~800 physicians), which the rollup's flush hook
cannot see: so no code writes an offer but through these functions, each of which moves the rollup itself
(`tests/test_architecture.py` fails on an INSERT or UPDATE of offers anywhere else). Each also marks the request's
community as changed for the live pages (`live_versions`), which the ORM's flush hook cannot see here either.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, select, update

from dispatch.auth.models import Membership, User
from dispatch.communities.models import Physician
from dispatch.db import UTCDateTime, db
from dispatch.requests import live_versions, rollup
from dispatch.requests.models import Offer, Request
from dispatch.requests.states import OfferStatus, Phase


def accepted_since() -> Any:
    """Return, for the Physician row of the enclosing query, how many requests they accepted since declaring their
    capacity and still hold (a hand-back clears `accepted_by_id`): machine.capacity's count, in SQL."""
    return (
        select(func.count())
        .select_from(Request)
        .where(Request.accepted_by_id == Physician.id, Request.accepted_at >= Physician.capacity_from)
        .correlate(Physician)
        .scalar_subquery()
    )


def room_clause(now: Any) -> ColumnElement[bool]:
    """Return the condition that a member has room for one more request at `now`: no capacity in force
    (none declared, or its `until` passed), or fewer acceptances since it was declared (machine.capacity.left)."""
    until = Physician.capacity_until
    return Physician.capacity.is_(None) | until.is_(None) | (until <= now) | (accepted_since() < Physician.capacity)


def _eligible_query() -> Any:
    """Return the community's professionals of one profession who take requests now (community, profession and time
    as parameters): a nurse's request never reaches a physician, nor a physician's a nurse."""
    now = bindparam("now", type_=UTCDateTime())
    # Physician.is_available in SQL: a switch set "until" a passed time has flipped back.
    until = Physician.available_until
    available = ((until.is_(None) | (until > now)) & Physician.available.is_(True)) | (
        (until <= now) & Physician.available.is_(False)
    )
    return (
        select(Physician.id)
        .join(User, User.id == Physician.user_id)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.community_id == bindparam("community_id"),
            Membership.role == "physician",
            Physician.profession == bindparam("profession"),
            User.active.is_(True),
            # An invited member who has not chosen a password yet could not open an offer: none reaches them.
            User.password_set_at.is_not(None),
            available,
            # A floating slot filled: no offer reaches them until it lapses or they hand a patient back.
            room_clause(now),
        )
        .distinct()
        .order_by(Physician.id)
    )


# Built once: every request that opens to the community asks them.
COMMUNITY_ELIGIBLE = _eligible_query()
_ELIGIBLE = COMMUNITY_ELIGIBLE.where(
    Physician.id.not_in(select(Offer.physician_id).where(Offer.request_id == bindparam("request_id")))
)


def eligible_members(request: Request, *, now: datetime) -> list[int]:
    """Return the request's profession's members of the community who take requests now and were not offered it."""
    params = {"request_id": request.id, "community_id": request.community_id, "profession": request.profession, "now": now}
    return list(db.session.scalars(_ELIGIBLE, params))


def community_members(community_id: int, *, profession: str, now: datetime) -> list[int]:
    """Return the members of the community of this profession who take requests now."""
    return list(db.session.scalars(COMMUNITY_ELIGIBLE, {"community_id": community_id, "profession": profession, "now": now}))


_ROOM = select(Physician.id).where(Physician.id == bindparam("physician_id"), room_clause(bindparam("now", type_=UTCDateTime())))


def has_room(physician_id: int, *, now: datetime) -> bool:
    """Say whether a member has room for one more request at `now` (their floating slot, if any, is not full)."""
    return db.session.scalar(_ROOM, {"physician_id": physician_id, "now": now}) is not None


_PLACES = (
    select(Physician.id, Physician.lat, Physician.lon)
    .join(Membership, Membership.user_id == Physician.user_id)
    .where(
        Membership.community_id == bindparam("community_id"),
        Physician.profession == bindparam("profession"),
        Physician.lat.is_not(None),
        Physician.lon.is_not(None),
    )
)


def member_places(community_id: int, *, profession: str) -> dict[int, tuple[float, float]]:
    """Return where the practices of the community's members of this profession are (those placed)."""
    rows = db.session.execute(_PLACES, {"community_id": community_id, "profession": profession})
    return {member_id: (lat, lon) for member_id, lat, lon in rows if lat is not None and lon is not None}


def _day(request: Request) -> Any:
    return rollup.local_day(request.opened_at, request.community.timezone)


Distances = dict[int, float]  # per physician, km from the patient (when both are placed)


def distances(
    request_ids: Iterable[int], *, physician_id: int | None = None, physician_ids: Iterable[int] = ()
) -> dict[tuple[int, int], float]:
    """Return how far the patient of each of these requests is from each physician offered it, when both are placed
    (by (request id, physician id)): one physician's offers (their list), or one request's several physicians."""
    query = select(Offer.request_id, Offer.physician_id, Offer.distance_km).where(
        Offer.request_id.in_(list(request_ids)), Offer.distance_km.is_not(None)
    )
    query = query.where(Offer.physician_id == physician_id) if physician_id is not None else query
    chosen = list(physician_ids)
    query = query.where(Offer.physician_id.in_(chosen)) if chosen else query
    return {(request_id, pid): distance for request_id, pid, distance in db.session.execute(query) if distance is not None}


def add(offers: Iterable[tuple[Request, list[int], Phase, Distances]], *, now: datetime) -> None:
    """Offer each request to its physicians (one INSERT of many rows for all: psycopg's pipelined executemany on
    PostgreSQL), with their distances, and count the offers, per request's day."""
    rows: list[dict[str, Any]] = []
    for request, physician_ids, phase, distances in offers:
        if not physician_ids:
            continue
        rows += [
            {
                "request_id": request.id,
                "physician_id": pid,
                "phase": phase,
                "status": OfferStatus.NOTIFIED,
                "offered_at": now,
                "distance_km": distances.get(pid),
            }
            for pid in physician_ids
        ]
        rollup.count_offers(community_id=request.community_id, physician_ids=physician_ids, day=_day(request))
        live_versions.mark(db.session(), request.community_id)
    if rows:  # a Core INSERT of the table: the ORM's bulk path would cost more per row than the database does
        db.session.execute(insert(Offer.__table__), rows)  # type: ignore[arg-type]


def answer(request: Request, *, physician_id: int, status: str, previous: str, reason: str | None, now: datetime) -> bool:
    """Write a physician's answer on their offer if it still has the status `previous`, and count it; say if written."""
    answered = db.session.execute(
        update(Offer)
        .where(Offer.request_id == request.id, Offer.physician_id == physician_id, Offer.status == previous)
        .values(status=status, responded_at=now, **({"reason": reason} if status == OfferStatus.REFUSED else {}))
        .execution_options(synchronize_session=False)
    )
    if answered.rowcount != 1:  # type: ignore[attr-defined]
        return False
    live_versions.mark(db.session(), request.community_id)
    rollup.count_answer(
        community_id=request.community_id, physician_id=physician_id, answer=status, previous=previous, day=_day(request)
    )
    return True


def withdraw(request: Request, *, now: datetime, keep: int | None = None, only: int | None = None) -> list[int]:
    """Withdraw every pending offer but `keep`'s (or `only`'s alone); return whose, in order.

    A withdrawn offer stays counted as offered, and a pending one was neither accepted nor refused: no count moves.
    """
    whose = Offer.physician_id == only if only is not None else Offer.physician_id != (keep or 0)
    live_versions.mark(db.session(), request.community_id)
    withdrawn = db.session.scalars(
        update(Offer)
        .where(Offer.request_id == request.id, Offer.status == OfferStatus.NOTIFIED, whose)
        .values(status=OfferStatus.WITHDRAWN, responded_at=now)
        .returning(Offer.physician_id)
        .execution_options(synchronize_session="fetch")
    ).all()
    return sorted(withdrawn)


def reopen(request: Request, *, except_physician: int, now: datetime) -> list[int]:
    """Offer a handed-back request again, in the community phase, to those it was withdrawn from who still take
    requests (not `except_physician`); return them, in order.

    The same offer notified again is still one request offered to them: it was counted when first made, and a
    withdrawn offer stays counted (as the backfill recounts the rows), so no count moves.
    """
    members = community_members(request.community_id, profession=request.profession, now=now)
    live_versions.mark(db.session(), request.community_id)
    again = sorted(
        db.session.scalars(
            update(Offer)
            .where(
                Offer.request_id == request.id,
                Offer.status == OfferStatus.WITHDRAWN,
                Offer.physician_id != except_physician,
                Offer.physician_id.in_(members),
            )
            .values(status=OfferStatus.NOTIFIED, phase=Phase.COMMUNITY, offered_at=now, responded_at=None)
            .returning(Offer.physician_id)
            .execution_options(synchronize_session="fetch")
        ).all()
    )
    return again


def offered_to(request_ids: list[int]) -> dict[int, set[int]]:
    """Return, per request, the physicians it was offered to already (one query for a tick's batch)."""
    found: dict[int, set[int]] = defaultdict(set)
    rows = db.session.execute(select(Offer.request_id, Offer.physician_id).where(Offer.request_id.in_(request_ids)))
    for request_id, physician_id in rows:
        found[request_id].add(physician_id)
    return found
