"""Helpers of the HTTP edge: the runtime in app.extensions, the current user, role checks."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from argon2 import PasswordHasher
from flask import current_app, g, request
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from dispatch.auth.models import Membership, User
from dispatch.communities.models import Physician
from dispatch.db import db, kept_after_commit
from dispatch.errors import Problem
from dispatch.notify.ports import MailPort, PushPort, SmsPort


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass
class Runtime:
    """Per-app state: the clock, the password hasher, the ports and the sender's wake-up."""

    clock: Clock
    hasher: PasswordHasher
    push: PushPort
    sms: SmsPort
    mail: MailPort
    wake: Callable[[], None] = field(default=lambda: None)
    closers: list[Callable[[], None]] = field(default_factory=list)


def runtime() -> Runtime:
    """Return the current app's runtime."""
    return current_app.extensions["dispatch"]  # type: ignore[no-any-return]


def now() -> datetime:
    """Read the app's clock once for this HTTP request."""
    if "now" not in g:
        g.now = runtime().clock.now()
    return g.now  # type: ignore[no-any-return]


def client_label() -> str | None:
    """Return a short description of the calling client, for the audit trail."""
    agent = request.headers.get("User-Agent", "")[:150]
    return f"{request.remote_addr or '?'} {agent}".strip()[:200]


def current_user() -> User:
    """Return the authenticated user, or answer 401."""
    user = g.get("user")
    if user is None:
        raise Problem(401, "unauthorized", "Jeton d'accès absent, expiré ou révoqué.",
                      headers={"WWW-Authenticate": 'Bearer realm="snp-dispatch"'})
    return user  # type: ignore[no-any-return]


def require_role(*roles: str) -> User:
    """Return the current user if their role is one of `roles`, or answer 403."""
    user = current_user()
    if user.role not in roles:
        raise Problem(403, "forbidden", "Votre rôle ne permet pas cette action.")
    return user


def member_role(user: User, community_id: int) -> str | None:
    """Return the user's role in a community, or None."""
    for membership in user.memberships:
        if membership.community_id == community_id:
            return membership.role
    return None


def community_ids(user: User, *roles: str) -> list[int]:
    """Return the ids of the communities where the user holds one of `roles`."""
    return [m.community_id for m in user.memberships if not roles or m.role in roles]


def current_physician() -> Physician:
    """Return the physician record of the current user, or answer 403."""
    user = require_role("physician")
    physician = user.physician  # loaded with the user by resolve_token: no query
    if physician is None:
        raise Problem(403, "forbidden", "Ce compte n'est pas celui d'un médecin.")
    return physician


def member_user_ids(community_id: int) -> list[int]:
    """Return the user ids of a community's members."""
    return list(db.session.scalars(select(Membership.user_id).where(Membership.community_id == community_id)))


def bearer_token() -> str | None:
    """Return the bearer token of the HTTP request, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def problem_if_none(value: Any, detail: str = "Ressource introuvable.") -> Any:
    """Return `value`, or answer 404 when it is None."""
    if value is None:
        raise Problem(404, "not_found", detail)
    return value


MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """The `int` of our URLs, documented as an id from 1 to 2**31 - 1.

    Werkzeug's own min/max would turn an out-of-range id into a 405 on routes shared by several methods,
    so the range is checked by `id_out_of_range` in the request guard instead, which answers 404.
    """


def id_out_of_range(view_args: dict[str, Any] | None) -> bool:
    """Tell whether an id in the path is outside what the database holds."""
    return any(isinstance(value, int) and not 1 <= value <= MAX_ID for value in (view_args or {}).values())


def id_param_schema(converter: IdConverter) -> dict[str, Any]:
    """Return the OpenAPI schema of an id in a path."""
    return {"type": "integer", "format": "int32", "minimum": 1, "maximum": MAX_ID}


def answers_from_memory(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let a view that commits answer from the rows as it wrote them, without reloading each one after the commit.

    The rows are expired when the view returns, as a commit would have left them, for whoever reads next.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with kept_after_commit():
                return view(*args, **kwargs)
        finally:
            db.session.expire_all()

    return wrapper
