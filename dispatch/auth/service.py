"""Use cases of accounts: create users, sign in and out, resolve a bearer token."""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import joinedload

from dispatch.auth import second_factor
from dispatch.auth.models import LoginFailure, Token, User
from dispatch.db import UTCDateTime, db

# Checked against when the login is unknown, so both cases cost the same time: one per set of argon2 parameters,
# made by the runtime's own hasher (a hash of other parameters would cost another time).
_DUMMIES: dict[tuple[Any, ...], str] = {}


def _dummy_hash(ph: PasswordHasher) -> str:
    """Return a hash of a random secret made with `ph`'s parameters, computed once per set of parameters."""
    key = (ph.type, ph.time_cost, ph.memory_cost, ph.parallelism, ph.hash_len, ph.salt_len)
    if key not in _DUMMIES:
        _DUMMIES[key] = ph.hash(secrets.token_urlsafe(24))
    return _DUMMIES[key]


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
    """The login or the password is wrong."""


class AccountDisabled(BadCredentials):
    """The login and password are right but the account was deactivated: its holder is told so."""


class TotpRequired(Exception):
    """The login and password are right; the account's second factor is needed too (`enrolled`: it has one; else
    it must enrol first, from the sign-in page)."""

    def __init__(self, user: User) -> None:
        super().__init__("second factor required")
        self.user = user
        self.enrolled = second_factor.enrolled(user)


class BadTotp(Exception):
    """The second factor's code is wrong, or was used already."""


def hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    """Return the argon2id hasher for these costs."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)


def token_digest(token: str) -> str:
    """Return the stored form of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignInLimits:
    """How long a token lives and how failed sign-ins are slowed, as the settings say."""

    ttl_s: int
    max_failures: int
    max_failures_per_address: int
    window_s: int
    delay_s: int = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SignInLimits:
        return cls(
            ttl_s=int(config["DISPATCH_TOKEN_TTL_S"]),
            max_failures=int(config["LOGIN_MAX_FAILURES"]),
            max_failures_per_address=int(config["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
            window_s=int(config["LOGIN_WINDOW_S"]),
            delay_s=int(config["LOGIN_DELAY_S"]),
        )


def sign_in(
    *,
    login: str,
    password: str,
    address: str | None,
    client: str | None,
    now: datetime,
    ph: PasswordHasher,
    limits: SignInLimits,
    scope: str = "api",
    remember_s: int | None = None,
    totp: str | None = None,
    production: bool = False,
) -> Session:
    """Check a login and password (and the second factor's code when the account needs one) and issue a bearer token.

    An account with a second factor (enrolled, or asked of it in `production`: see `second_factor.required`) needs
    `totp` too: without it TotpRequired, wrong BadTotp (a failure counted as a wrong password is).

    `remember_s`, a physician's "stay signed in on this phone", makes the token live that long instead (an account of
    any other role, on a shared desk, keeps the usual lifetime); "sign out everywhere" revokes it as any other.

    Slows attackers without locking the rightful user out: after `limits.max_failures` failures of one login from
    one address, each further attempt from there waits `delay_s`, doubling with every failure up to `window_s`.
    An address with `max_failures_per_address` failures (any login) in the window is over its ceiling: there a
    login waits from its first failure, and a failed attempt answers TooManyAttempts until the window ends; but the
    right password of an account still signs in (everyone behind one proxy shares an address: random logins from
    there must not lock them all out). Nothing blocks the same login from another address.
    """
    ceiling = address_ceiling(address=address, now=now, limits=limits)
    wait = login_delay(login=login, address=address, now=now, limits=limits, strict=ceiling > 0)
    if wait > 0:
        raise TooManyAttempts(retry_after=wait)
    user = db.session.scalar(select(User).where(User.login == login))
    ok = check_password(user, password, ph)
    if not ok or user is None:
        record_failure(login=login, address=address, now=now)
        db.session.commit()
        if ceiling:  # the same answer whether the login exists or not
            raise TooManyAttempts(retry_after=ceiling)
        raise BadCredentials()
    if not user.active:  # only who knows the password learns it: no enumeration
        raise AccountDisabled()
    if user.password_hash is not None and ph.check_needs_rehash(user.password_hash):
        user.password_hash = ph.hash(password)
    if second_factor.required(user=user, production=production):
        _check_second_factor(user=user, totp=totp, address=address, now=now)
    return _open_session(user=user, address=address, client=client, now=now, limits=limits, scope=scope, remember_s=remember_s)


def _check_second_factor(*, user: User, totp: str | None, address: str | None, now: datetime) -> None:
    """Raise TotpRequired without a code (or without an enrolment), BadTotp for a wrong one, counted as a failure."""
    if not totp or not second_factor.enrolled(user):
        db.session.commit()  # a rehashed password is kept
        raise TotpRequired(user)
    if not second_factor.verify(user=user, code=totp, now=now):
        db.session.add(LoginFailure(login=user.login[:120], address=address, at=now))
        db.session.commit()
        raise BadTotp()


def second_step(
    *,
    user_id: int,
    totp: str,
    address: str | None,
    client: str | None,
    now: datetime,
    limits: SignInLimits,
    scope: str = "page",
    remember_s: int | None = None,
) -> Session:
    """Finish a sign-in whose password was right (the pages' second step): check the code, throttled as passwords
    are, and issue the token. BadCredentials if the account is gone or was deactivated meanwhile."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise BadCredentials()
    wait = password_attempt_delay(login=user.login, address=address, now=now, limits=limits)
    if wait > 0:
        raise TooManyAttempts(retry_after=wait)
    _check_second_factor(user=user, totp=totp, address=address, now=now)
    return _open_session(user=user, address=address, client=client, now=now, limits=limits, scope=scope, remember_s=remember_s)


def open_enrolled_session(
    *,
    user: User,
    address: str | None,
    client: str | None,
    now: datetime,
    limits: SignInLimits,
    scope: str = "page",
    remember_s: int | None = None,
) -> Session:
    """Issue the token of a sign-in that has just proved its new second factor by confirming its enrolment."""
    if not user.active or not second_factor.enrolled(user):
        raise BadCredentials()
    return _open_session(user=user, address=address, client=client, now=now, limits=limits, scope=scope, remember_s=remember_s)


def open_strong_session(
    *, user: User, address: str | None, client: str | None, now: datetime, limits: SignInLimits, max_s: int
) -> Session:
    """Issue the pages' session of a user another proof signed in (Pro Santé Connect), living at most `max_s`."""
    if not user.active:
        raise BadCredentials()
    return _open_session(
        user=user, address=address, client=client, now=now, limits=limits, scope="page", remember_s=None, ttl_cap_s=max_s
    )


def _open_session(
    *,
    user: User,
    address: str | None,
    client: str | None,
    now: datetime,
    limits: SignInLimits,
    scope: str,
    remember_s: int | None,
    ttl_cap_s: int | None = None,
) -> Session:
    """Forget the holder's failures from this address and issue a token; commit."""
    forget_failures(login=user.login, address=address)
    ttl_s = remember_s if remember_s is not None and user.role == "physician" else limits.ttl_s
    if ttl_cap_s is not None:
        ttl_s = min(ttl_s, ttl_cap_s)
    return open_session(user=user, now=now, ttl_s=ttl_s, client=client, scope=scope)


def open_session(*, user: User, now: datetime, ttl_s: int, client: str | None, scope: str) -> Session:
    """Issue a token of this scope to a user whose identity was just proven (a password, an offer's link), and commit."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        Token(
            user_id=user.id,
            token_hash=token_digest(token),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
            client=(client or "")[:200] or None,
            scope=scope,
        )
    )
    db.session.commit()
    return Session(token=token, expires_in=ttl_s, user=user)


def check_password(user: User | None, password: str, ph: PasswordHasher) -> bool:
    """Tell whether `password` is the account's; an unknown account, or an invited one with no password yet, is
    checked against a dummy hash, so that every refusal costs the same time."""
    stored = user.password_hash if user is not None else None
    try:
        ph.verify(stored or _dummy_hash(ph), password)
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def _same_address(address: str | None) -> Any:
    return LoginFailure.address == address if address else LoginFailure.address.is_(None)


def record_failure(*, login: str, address: str | None, now: datetime) -> None:
    """Note a failed password check of `login` from `address` (sign-in or password change); the caller commits."""
    db.session.add(LoginFailure(login=login[:120], address=address, at=now))


def forget_failures(*, login: str, address: str | None) -> None:
    """Forget the failures of `login` from `address` once its right password was given there; the caller commits."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.login == login, _same_address(address)))


def login_delay(*, login: str, address: str | None, now: datetime, limits: SignInLimits, strict: bool = False) -> int:
    """Return how many seconds this (login, address) must still wait before trying again (0: it may try now).

    `strict` (the address is over its ceiling): the delay starts from the first failure instead of the
    `max_failures`-th.
    """
    since = now - timedelta(seconds=limits.window_s)
    count, last = db.session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.login == login, _same_address(address), LoginFailure.at > since
        )
    ).one()
    free = 1 if strict else limits.max_failures
    if count < free or last is None:
        return 0
    delay = min(limits.delay_s * 2 ** min(count - free, 20), limits.window_s)
    return max(0, math.ceil((last + timedelta(seconds=delay) - now).total_seconds()))


def address_ceiling(*, address: str | None, now: datetime, limits: SignInLimits) -> int:
    """Return how many seconds the address stays over its ceiling of failures (any login), 0 if it is under."""
    if not address:
        return 0
    since = now - timedelta(seconds=limits.window_s)
    count, oldest = db.session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.address == address, LoginFailure.at > since)
    ).one()
    if count < limits.max_failures_per_address or oldest is None:
        return 0
    return max(1, math.ceil((oldest + timedelta(seconds=limits.window_s) - now).total_seconds()))


def password_attempt_delay(*, login: str, address: str | None, now: datetime, limits: SignInLimits) -> int:
    """Return how long a password check of `login` from `address` must wait, as a sign-in would (0: it may try now)."""
    strict = address_ceiling(address=address, now=now, limits=limits) > 0
    return login_delay(login=login, address=address, now=now, limits=limits, strict=strict)


@functools.cache
def _resolve_statement() -> Any:
    """Return the token lookup, built once (on first use: its loader options need every model mapped)."""
    return (
        select(User)
        .join(Token, Token.user_id == User.id)
        .options(joinedload(User.memberships), joinedload(User.physician).lazyload("*"))
        .where(
            Token.token_hash == bindparam("digest"),
            Token.scope == bindparam("scope"),
            Token.revoked_at.is_(None),
            Token.expires_at > bindparam("now", type_=UTCDateTime()),
            User.active.is_(True),
        )
    )


def resolve_token(*, token: str, now: datetime, scope: str = "api") -> User | None:
    """Return the active user holding this unexpired, unrevoked token of this scope (a page session is no bearer)."""
    # One round trip on every call: the token's checks are in the query, the user and memberships come with it.
    params = {"digest": token_digest(token), "now": now, "scope": scope}
    return db.session.scalars(_resolve_statement(), params).unique().first()


def sign_out(*, token: str, now: datetime) -> None:
    """Revoke a bearer token."""
    row = db.session.scalar(select(Token).where(Token.token_hash == token_digest(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        db.session.commit()


# What generated passwords are made of: no letter or digit a reader mistakes for another (I, l, 1, O, 0, o).
PASSWORD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "IlO0o1")


def generate_password(length: int = 16) -> str:
    """Return a random password of `length` characters, none of them ambiguous (I, l, 1, O, 0, o)."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def create_user(
    *,
    login: str,
    password: str | None,
    name: str,
    role: str,
    now: datetime,
    ph: PasswordHasher,
    email: str | None = None,
    phone: str | None = None,
) -> User:
    """Create an account; without a password, none at all until the holder chooses theirs; the caller commits.

    An invited member has no hash (None): signing in is refused after a check against a dummy hash, which costs the
    same time, and an import of hundreds of members computes no argon2 hash at all.
    """
    known = password is not None
    user = User(
        login=login,
        password_hash=ph.hash(password) if password is not None else None,
        name=name,
        role=role,
        email=email,
        phone=phone,
        active=True,
        created_at=now,
        password_set_at=now if known else None,
    )
    db.session.add(user)
    db.session.flush()
    return user
