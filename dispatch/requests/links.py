"""One tap from an offer's SMS: a single-use link that signs its physician in to that one request, until its deadline.

The SMS replaces a push the physician's phone could not get. Its link is random (only a digest is kept), bound to one
physician and one request, valid until the request's deadline, and good for one tap: it opens a pages' session of
scope "offer" that the pages limit to that request (dispatch.pages.guard). Anything else asks for the password.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from dispatch.auth import service as auth
from dispatch.auth.models import User
from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.requests.models import OfferLink

SCOPE = "offer"
PATH = "/l/"
# 128 bits in 22 characters: the offer's SMS stays one segment with the longest motive and town.
TOKEN_BYTES = 16


@dataclass(frozen=True)
class LinkSession:
    """A session opened by an offer's link: its token, and the one request it opens."""

    session: auth.Session
    request_id: int


class LinkUnusable(Exception):
    """The link cannot sign anyone in: unknown, already used, past its deadline, or its holder's account is off."""

    def __init__(self, reason: str, request_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


def make_link(*, request_id: int, physician_id: int, expires_at: datetime, now: datetime, public_url: str) -> str:
    """Create a single-use link for this physician to this request, valid until `expires_at`; return its address."""
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    db.session.add(
        OfferLink(
            request_id=request_id,
            physician_id=physician_id,
            token_hash=auth.token_digest(secret),
            created_at=now,
            expires_at=expires_at,
        )
    )
    return f"{public_url.rstrip('/')}{PATH}{secret}"


def extend(*, request_id: int, until: datetime) -> None:
    """Keep this request's links not used yet valid until `until` (its deadlines moved), in the caller's transaction."""
    db.session.execute(
        update(OfferLink)
        .where(OfferLink.request_id == request_id, OfferLink.used_at.is_(None))
        .values(expires_at=until)
        .execution_options(synchronize_session=False)
    )


def usable_link(*, secret: str, now: datetime) -> tuple[OfferLink, User]:
    """Return an offer's link and its holder if it can still sign them in; LinkUnusable otherwise. Spends nothing."""
    if not secret or len(secret) > 64:
        raise LinkUnusable("unknown")
    link = db.session.scalar(select(OfferLink).where(OfferLink.token_hash == auth.token_digest(secret)))
    if link is None:
        raise LinkUnusable("unknown")
    if link.used_at is not None:
        raise LinkUnusable("used", link.request_id)
    if link.expires_at <= now:
        raise LinkUnusable("expired", link.request_id)
    user = db.session.scalar(select(User).join(Physician, Physician.user_id == User.id).where(Physician.id == link.physician_id))
    if user is None or not user.active:
        raise LinkUnusable("inactive", link.request_id)
    return link, user


def sign_in_by_link(*, secret: str, now: datetime, client: str | None, ttl_s: int) -> LinkSession:
    """Spend an offer's link and open a session limited to its request; LinkUnusable when it cannot serve."""
    link, user = usable_link(secret=secret, now=now)
    # One tap only, even from two tabs at once: the first update wins, the second finds it spent.
    spent = db.session.execute(update(OfferLink).where(OfferLink.id == link.id, OfferLink.used_at.is_(None)).values(used_at=now))
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise LinkUnusable("used", link.request_id)
    session = auth.open_session(user=user, now=now, ttl_s=ttl_s, client=client, scope=SCOPE)
    return LinkSession(session=session, request_id=link.request_id)
