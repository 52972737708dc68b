"""Use cases of accounts: create users, sign in and out, resolve a bearer token."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import joinedload

from dispatch.auth.models import LoginFailure, Token, User
from dispatch.db import UTCDateTime, db

# Checked against when the login is unknown, so both cases cost the same time.
_DUMMY = "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$0a4xz8Vn7IWLR6c3Slkn2Q"


@dataclass(frozen=True)
class Session:
    """A successful sign-in."""

    token: str
    expires_in: int
    user: User


class TooManyAttempts(Exception):
    """Too many failed sign-ins for this login or this address."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many attempts")
        self.retry_after = retry_after


class BadCredentials(Exception):
    """The login or the password is wrong, or the account is inactive."""


def hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    """Return the argon2id hasher for these costs."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)


def token_digest(token: str) -> str:
    """Return the stored form of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(
    *,
    login: str,
    password: str,
    address: str | None,
    client: str | None,
    now: datetime,
    ph: PasswordHasher,
    ttl_s: int,
    max_failures: int,
    max_failures_per_address: int,
    window_s: int,
) -> Session:
    """Check a login and password and issue a bearer token."""
    since = now - timedelta(seconds=window_s)
    by_login = db.session.scalar(select(func.count()).where(LoginFailure.login == login, LoginFailure.at > since))
    by_address: int | None = 0
    if address:
        by_address = db.session.scalar(select(func.count()).where(LoginFailure.address == address, LoginFailure.at > since))
    if (by_login or 0) >= max_failures or (by_address or 0) >= max_failures_per_address:
        raise TooManyAttempts(retry_after=window_s)
    user = db.session.scalar(select(User).where(User.login == login))
    try:
        ph.verify(user.password_hash if user else _DUMMY, password)
        ok = user is not None and user.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        db.session.add(LoginFailure(login=login[:120], address=address, at=now))
        db.session.commit()
        raise BadCredentials()
    if ph.check_needs_rehash(user.password_hash):
        user.password_hash = ph.hash(password)
    db.session.execute(delete(LoginFailure).where(LoginFailure.login == login))
    token = secrets.token_urlsafe(32)
    db.session.add(
        Token(
            user_id=user.id,
            token_hash=token_digest(token),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
            client=(client or "")[:200] or None,
        )
    )
    db.session.commit()
    return Session(token=token, expires_in=ttl_s, user=user)


@functools.cache
def _resolve_statement() -> Any:
    """Return the token lookup, built once (on first use: its loader options need every model mapped)."""
    return (
        select(User)
        .join(Token, Token.user_id == User.id)
        .options(joinedload(User.memberships), joinedload(User.physician).lazyload("*"))
        .where(
            Token.token_hash == bindparam("digest"),
            Token.revoked_at.is_(None),
            Token.expires_at > bindparam("now", type_=UTCDateTime()),
            User.active.is_(True),
        )
    )


def resolve_token(*, token: str, now: datetime) -> User | None:
    """Return the active user holding this unexpired, unrevoked token."""
    # One round trip on every call: the token's checks are in the query, the user and memberships come with it.
    return db.session.scalars(_resolve_statement(), {"digest": token_digest(token), "now": now}).unique().first()


def sign_out(*, token: str, now: datetime) -> None:
    """Revoke a bearer token."""
    row = db.session.scalar(select(Token).where(Token.token_hash == token_digest(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        db.session.commit()


def create_user(
    *,
    login: str,
    password: str,
    name: str,
    role: str,
    now: datetime,
    ph: PasswordHasher,
    email: str | None = None,
    phone: str | None = None,
) -> User:
    """Create an account; the caller commits."""
    user = User(
        login=login, password_hash=ph.hash(password), name=name, role=role, email=email, phone=phone, active=True, created_at=now
    )
    db.session.add(user)
    db.session.flush()
    return user
