"""The change counter of each community, which the live pages read before anything else (issue 24, point 7).

Every transaction that changes something a live page shows (a request opened, advanced, accepted, handed back, closed
or called back; an offer made, answered or withdrawn; an event of a request's history) adds one to the counter of the
request's community, in the same transaction, just before it commits. A page's poll then answers "nothing moved"
(304) from one indexed read of that counter, and computes its digest only when the counter moved. No call site
brackets a change: the session hooks see every request, offer and event the ORM writes, and the offers' own store
(the only writer of offers outside the ORM) marks its community itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, event, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.communities.models import Community
from dispatch.db import Model, db
from dispatch.requests.models import Request

_MARKED = "live_versions_marked"  # the session's info: the communities this transaction changed
_WATCHED = ("requests", "offers", "events", "syntheses")


class CommunityVersion(Model):
    """How many committed transactions changed what the community's live pages show (no row: none yet)."""

    __tablename__ = "community_versions"

    community_id: Mapped[int] = mapped_column(Integer, ForeignKey("communities.id"), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


def mark(session: Session, community_id: int) -> None:
    """Note that the session's transaction changes what the community's live pages show."""
    session.info.setdefault(_MARKED, set()).add(community_id)


def _collect(session: Session, _context: Any, _instances: Any) -> None:
    """Before each flush: mark the community of every request, offer, event or synthesis written."""
    for obj in [*session.new, *session.dirty, *session.deleted]:
        table = getattr(obj, "__tablename__", None)
        if table not in _WATCHED:
            continue
        if table == "requests":
            community_id = obj.community_id
        else:
            community_id = _community_of(session, obj.request_id)
        if community_id is not None:
            mark(session, community_id)


def _community_of(session: Session, request_id: int | None) -> int | None:
    """Return the community of a request, from the session's identity map when it is there (it nearly always is)."""
    if request_id is None:
        return None
    with session.no_autoflush:
        held = session.get(Request, request_id)
    return held.community_id if held is not None else None


def _bump(session: Session) -> None:
    """Add one to the counter of each community the transaction changed, in key order (the rows lock in that order).

    Installed after the rollups' own hook, so the lock is taken last and held only for the commit itself.
    """
    session.flush()
    marked = session.info.pop(_MARKED, None)
    if not marked:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(_bump_statement(dialect), [{"community_id": cid, "version": 1} for cid in sorted(marked)])


_STATEMENTS: dict[str, Any] = {}


def _bump_statement(dialect: Any) -> Any:
    """Return the INSERT ... ON CONFLICT DO UPDATE that adds one to a counter, built once per dialect."""
    if dialect.__name__ not in _STATEMENTS:
        table = CommunityVersion.__table__
        statement = dialect.insert(table)
        _STATEMENTS[dialect.__name__] = statement.on_conflict_do_update(
            index_elements=["community_id"], set_={"version": table.c.version + literal_column("1")}
        )
    return _STATEMENTS[dialect.__name__]


def _forget(session: Session) -> None:
    session.info.pop(_MARKED, None)


def install(session_factory: Any) -> None:
    """Keep the counters with every transaction of the app's sessions (idempotent; after the rollups' hooks)."""
    for name, hook in (("before_flush", _collect), ("before_commit", _bump), ("after_rollback", _forget)):
        if not event.contains(session_factory, name, hook):
            event.listen(session_factory, name, hook)


# --- The reads of the live pages --------------------------------------------------------------------------------------


def versions(community_ids: Iterable[int]) -> dict[int, int]:
    """Return the counter of each community (0 when nothing was ever counted): one indexed read."""
    ids = sorted(set(community_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(CommunityVersion.community_id, CommunityVersion.version).where(CommunityVersion.community_id.in_(ids))
    )
    found = dict.fromkeys(ids, 0)
    found.update({community_id: version for community_id, version in rows})
    return found


def community_version(community_id: int) -> tuple[str, int] | None:
    """Return the community's time zone and counter (one indexed read), or None if there is no such community."""
    row = db.session.execute(
        select(Community.timezone, CommunityVersion.version)
        .outerjoin(CommunityVersion, CommunityVersion.community_id == Community.id)
        .where(Community.id == community_id)
    ).first()
    return (str(row[0]), int(row[1] or 0)) if row is not None else None


def request_version(request_id: int) -> tuple[int, int] | None:
    """Return the request's community and that community's counter (one indexed read), or None if no such request."""
    row = db.session.execute(
        select(Request.community_id, CommunityVersion.version)
        .outerjoin(CommunityVersion, CommunityVersion.community_id == Request.community_id)
        .where(Request.id == request_id)
    ).first()
    return (int(row[0]), int(row[1] or 0)) if row is not None else None
