"""Helpers of the HTTP edge: the current user, the calling client, ids in paths, answers from memory.

A leaf of the edge: it imports no domain package at run time (who may do what is `dispatch.policy`'s).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import g, request
from werkzeug.routing import IntegerConverter

from dispatch.db import MAX_ID as MAX_ID  # re-exported: the edges bound their path ids with it
from dispatch.db import kept_after_commit
from dispatch.errors import Problem
from dispatch.runtime import now as now  # re-exported: the edges read the clock from here
from dispatch.runtime import runtime as runtime

if TYPE_CHECKING:
    from dispatch.auth.models import User


def client_label() -> str | None:
    """Return a short description of the calling client, for the audit trail."""
    agent = request.headers.get("User-Agent", "")[:150]
    return f"{request.remote_addr or '?'} {agent}".strip()[:200]


def current_user() -> User:
    """Return the authenticated user, or answer 401."""
    user = g.get("user")
    if user is None:
        raise Problem(
            401,
            "unauthorized",
            "Jeton d'accès absent, expiré ou révoqué.",
            headers={"WWW-Authenticate": 'Bearer realm="snp-dispatch"'},
        )
    return user  # type: ignore[no-any-return]


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


class IdConverter(IntegerConverter):
    """The `int` of our URLs, documented as an id from 1 to 2**31 - 1.

    Werkzeug's own min/max would turn an out-of-range id into a 405 on routes shared by several methods,
    so the range is checked by a request guard instead (`dispatch.guards.ids_in_range`), which answers 404.
    """


def id_param_schema(converter: IdConverter) -> dict[str, Any]:
    """Return the OpenAPI schema of an id in a path."""
    return {"type": "integer", "format": "int32", "minimum": 1, "maximum": MAX_ID}


def autocommit_read(view: Callable[..., Any]) -> Callable[..., Any]:
    """Declare a read whose statements each stand alone (at most one INSERT, the access trail): it runs without
    BEGIN and COMMIT round trips. Put it under the route's other decorators (they copy the mark).

    Measured (bench/run.py, 2026-12-01): on the two busiest reads, `GET /me/offers` and `GET /requests/{id}`,
    two round trips fewer per call on PostgreSQL.
    """
    view.autocommit_read = True  # type: ignore[attr-defined]
    return view


def answers_from_memory(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let a view that commits answer from the rows as it wrote them, without reloading each one after the commit.

    The request's session ends with it: nobody reads those rows afterwards.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with kept_after_commit():
            return view(*args, **kwargs)

    return wrapper
