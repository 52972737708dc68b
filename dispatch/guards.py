"""The checks every HTTP request passes before its view, one small function each, run in the order of `GUARDS`.

The order is part of the contract: during a maintenance every API call but the health checks answers 503 first; an
id beyond the database's integers answers 404, an unknown API path or method its own 404/405; then, on the API, a
body too long 413, a body that is not JSON 415, a missing or dead bearer
token 401 (strangers learn nothing from validation), and last a JSON body nested too deep 400 (the pages too).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from dispatch import errors, maintenance
from dispatch.auth.service import resolve_token
from dispatch.db import db
from dispatch.web import MAX_ID, bearer_token, now

HEALTH = ("/api/v1/healthz", "/api/v1/health/engine")  # still answered during a maintenance
WEBHOOKS = "/api/v1/webhooks/"  # providers' callbacks: signed, not bearing a token, posted as forms
WRITES = ("POST", "PUT", "PATCH")
# Fewer opening brackets than this cannot reach the parser's recursion limit: such bodies are not parsed twice.
_NESTING_SAFE = 256


def _api_call() -> bool:
    """Tell whether the request is for a route of the API (an unknown path or method answers its own 404/405)."""
    return request.path.startswith("/api/") and request.routing_exception is None


def _public(method: str, path: str) -> bool:
    """Tell whether an API call needs no bearer token (sign-in, the document, health, provider webhooks)."""
    operation = ("get" if method == "HEAD" else method.lower(), path)
    return operation in errors.PUBLIC_OPERATIONS or path.startswith(WEBHOOKS) or method == "OPTIONS"


def _chunked() -> bool:
    """Tell whether the body comes in chunks, its length not announced."""
    return bool(request.headers.get("Transfer-Encoding"))


def _too_large() -> Response:
    """Return the 413 of a body over the limit."""
    return errors.problem_response(413, detail="Le corps de la requête dépasse 1 Mio.")


def id_out_of_range(view_args: dict[str, Any] | None) -> bool:
    """Tell whether an id in the path is outside what the database holds."""
    return any(isinstance(value, int) and not 1 <= value <= MAX_ID for value in (view_args or {}).values())


def json_too_deep(body: bytes) -> bool:
    """Tell whether a JSON body nests deeper than the parser can go (a RecursionError would answer 500)."""
    if body.count(b"[") + body.count(b"{") < _NESTING_SAFE:
        return False
    try:
        json.loads(body)
    except RecursionError:
        return True
    except ValueError:
        return False  # malformed: the view's parser answers its 400
    return False


def not_in_maintenance() -> Response | None:
    """Answer 503 with Retry-After to every API call but the health checks while the service is in maintenance."""
    # The flag is this process's reading of at most CACHE_S ago, on a connection of its own: one SELECT a second per
    # process whatever the traffic, and nothing in the request's own transaction.
    if not request.path.startswith("/api/") or request.path in HEALTH:
        return None
    state = maintenance.cached()
    if state is None:
        return None
    return errors.problem_response(
        503,
        code="maintenance",
        detail="Le service est en maintenance : réessayez dans quelques minutes. Les délais des demandes en cours seront "
        "prolongés de la durée de la maintenance.",
        headers={"Retry-After": str(maintenance.RETRY_AFTER_S)},
        extra={"title": "Maintenance en cours", "maintenance_since": state.started_at.isoformat().replace("+00:00", "Z")},
    )


def ids_in_range() -> Response | None:
    """Answer 404 to an id in the path beyond the database's integers: problem+json on the API, the French page elsewhere."""
    if not id_out_of_range(request.view_args):
        return None
    if request.path.startswith("/api/"):
        return errors.problem_response(404, detail="Ressource introuvable.")
    raise NotFound()


def body_within_limit() -> Response | None:
    """Answer 413 to an API body over the limit, whether its length is announced or it comes in chunks."""
    if not _api_call():
        return None
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    length = request.content_length
    if length is not None:
        return _too_large() if length > limit else None
    if not _chunked():
        return None
    try:  # no length announced: read at most the limit (werkzeug stops there) and keep it for the view
        whole = len(request.get_data(cache=True)) < limit or not request.stream.read(1)
    except RequestEntityTooLarge:
        whole = False
    return None if whole else _too_large()


def json_bodies_only() -> Response | None:
    """Answer 415 to an API body that is not JSON, but for the providers' webhooks, which post forms."""
    if not _api_call() or request.is_json or request.path.startswith(WEBHOOKS):
        return None
    if request.method in WRITES and (request.content_length or _chunked()):
        return errors.problem_response(415, detail="Envoyez le corps en JSON (Content-Type: application/json).")
    return None


def autocommit_reads() -> None:
    """Run an authenticated call to a view marked @autocommit_read without BEGIN and COMMIT, its token's lookup included."""
    if not _api_call() or bearer_token() is None:
        return
    if getattr(current_app.view_functions.get(request.endpoint or ""), "autocommit_read", False):
        # Such a read writes at most one INSERT (the access trail): each statement stands alone.
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def authenticate() -> Response | None:
    """Resolve the bearer token into g.user; answer 401 to a stranger anywhere on the API but its public endpoints."""
    if not _api_call():
        return None
    token = bearer_token()
    g.user = resolve_token(token=token, now=now()) if token else None
    g.user_id = g.user.id if g.user is not None else None
    if g.user is None and not _public(request.method, request.path):
        return errors.problem_response(
            401,
            code="unauthorized",
            detail="Jeton d'accès absent, expiré ou révoqué.",
            headers={"WWW-Authenticate": 'Bearer realm="snp-dispatch"'},
        )
    return None


def json_not_too_deep() -> Response | None:
    """Answer 400 to a JSON body nested beyond the parser's recursion limit, rather than a 500 in the view."""
    if request.path.startswith("/api/") and not _api_call():
        return None
    if request.method not in WRITES or not request.is_json:
        return None
    length = request.content_length
    if length is None and not _chunked():
        return None  # nothing to read
    if length is not None and length > current_app.config["MAX_CONTENT_LENGTH"]:
        return None  # too long: answered 413 (above for the API, by werkzeug for the pages)
    if json_too_deep(request.get_data(cache=True)):
        return errors.problem_response(400, code="invalid_json", detail="Le corps JSON est trop imbriqué.")
    return None


GUARDS: tuple[Callable[[], Response | None], ...] = (
    not_in_maintenance,
    ids_in_range,
    body_within_limit,
    json_bodies_only,
    autocommit_reads,
    authenticate,
    json_not_too_deep,
)


def install(app: Flask) -> None:
    """Run the guards before every view, in order; the first that answers ends the request."""
    for guard in GUARDS:
        app.before_request(guard)
