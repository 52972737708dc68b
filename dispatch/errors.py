"""Errors as RFC 9457 problem+json documents, with French titles."""

from __future__ import annotations

from typing import Any

from flask import Response, json
from werkzeug.exceptions import HTTPException

TITLES = {
    400: "Requête mal formée",
    401: "Authentification requise",
    403: "Action non autorisée",
    404: "Ressource introuvable",
    405: "Méthode non autorisée",
    409: "Conflit avec l'état de la demande",
    413: "Corps de requête trop volumineux",
    415: "Le corps doit être du JSON",
    422: "Données invalides",
    429: "Trop de tentatives",
    500: "Erreur interne",
    503: "Service indisponible",
}

CODES = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_attempts",
    500: "internal",
    503: "unavailable",
}


class Problem(HTTPException):
    """An HTTP error carrying a machine code and a French detail."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        detail: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description=detail)
        self.code = status
        self.problem_code = code or CODES.get(status, "error")
        self.detail = detail
        self.errors = errors
        self.extra_headers = headers or {}
        self.extra = extra or {}  # extension members of the problem document (e.g. relaunched_as)


QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement it cancelled (here: at the web's statement_timeout)


def statement_timed_out(error: BaseException) -> Problem | None:
    """Return the 503 that answers a statement PostgreSQL cancelled at the web requests' statement_timeout, or None."""
    if getattr(getattr(error, "orig", None), "sqlstate", None) != QUERY_CANCELED:
        return None
    return Problem(503, "busy", "Le service est très chargé : réessayez dans quelques secondes.", headers={"Retry-After": "5"})


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages into {"field.path": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":  # marshmallow's whole-object errors belong to the object itself
                path = prefix or "_body"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for sub, msgs in flatten(value, path).items():
                out.setdefault(sub, []).extend(msgs)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_body"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            out.update(flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "_body"] = [str(messages)]
    return out


def problem_response(
    status: int,
    *,
    code: str | None = None,
    detail: str | None = None,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Build the problem+json response for `status` (with its extension members, if any)."""
    body: dict[str, Any] = {
        "type": "about:blank" if status != 422 else "https://snp-dispatch.fr/problems/invalid",
        "title": TITLES.get(status, "Erreur"),
        "status": status,
        "detail": detail or TITLES.get(status, "Erreur"),
        "code": code or CODES.get(status, "error"),
    }
    if errors:
        body["errors"] = errors
    body.update(extra or {})
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def from_http_exception(error: HTTPException) -> Response:
    """Translate any HTTP exception (ours, werkzeug's, webargs') into problem+json."""
    status = error.code or 500
    if isinstance(error, Problem):
        return problem_response(
            status,
            code=error.problem_code,
            detail=error.detail,
            errors=error.errors,
            headers=error.extra_headers,
            extra=error.extra,
        )
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if status == 422 and messages:
        errors: dict[str, list[str]] = {}
        for location, fields in messages.items():
            flat = flatten(fields)
            if location not in ("json", "json_or_form"):
                flat = {f"{location}.{key}" if key != "_body" else location: value for key, value in flat.items()}
            errors.update(flat)
        return problem_response(422, detail="Certains champs sont invalides.", errors=errors)
    if status == 400:
        return problem_response(400, detail="Le corps de la requête n'est pas un JSON valide.")
    headers = {}
    if status == 405 and error.valid_methods if hasattr(error, "valid_methods") else False:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    return problem_response(status, detail=TITLES.get(status), headers=headers)


# The API's operations that need no bearer token (CONTRACT.md): the guard lets them through (dispatch.guards) and
# the OpenAPI says so; a HEAD goes with its GET.
PUBLIC_OPERATIONS = {
    ("post", "/api/v1/auth/token"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/healthz"),
    ("get", "/api/v1/health/engine"),
    ("get", "/api/v1/webpush/key"),
    ("post", "/api/v1/webhooks/twilio/status"),
}
BODY_METHODS = ("post", "put", "patch")
PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_doc(status: int, description: str | None = None) -> dict[str, Any]:
    """Return the OpenAPI response object of a problem+json error."""
    return {
        "description": description or TITLES.get(status, "Erreur"),
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """Return the error statuses an API operation can answer, from its method, path and inputs."""
    public = (method, path) in PUBLIC_OPERATIONS or operation.get("security") == []
    has_body = "requestBody" in operation
    has_query = any(isinstance(p, dict) and p.get("in") == "query" for p in operation.get("parameters", []))
    statuses = {413}
    if not public:
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)
    if method in BODY_METHODS:
        statuses |= {400, 415}
    if has_body or has_query:
        statuses.add(422)
    if method in BODY_METHODS and not public:
        statuses.add(409)
    if (method, path) == ("post", "/api/v1/auth/token"):
        statuses.add(429)
    return statuses


try:  # the plugin needs apispec, which flask-smorest brings
    from apispec import BasePlugin
except ImportError:  # pragma: no cover
    BasePlugin = object  # type: ignore[misc,assignment]


class ProblemDocPlugin(BasePlugin):  # type: ignore[misc]
    """Add to every API operation its problem+json responses and its security requirement."""

    def init_spec(self, spec: Any) -> None:
        """Register the Problem schema and the bearer scheme."""
        from dispatch.schemas import ProblemOut

        super().init_spec(spec)
        self.spec = spec
        spec.components.schema("Problem", schema=ProblemOut)
        spec.components.security_scheme(
            "bearerAuth", {"type": "http", "scheme": "bearer", "description": "Jeton obtenu par POST /api/v1/auth/token."}
        )

    def _optional_body(self, operation: dict[str, Any]) -> None:
        """Say a JSON body is optional when none of its fields is required: no body means no change."""
        body = operation.get("requestBody")
        schema = (body or {}).get("content", {}).get("application/json", {}).get("schema", {})
        ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
        component = self.spec.components.schemas.get(ref.rsplit("/", 1)[-1]) if ref else None
        if body is not None and isinstance(component, dict) and not component.get("required"):
            body["required"] = False

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Complete each operation of `path`; endpoints added by anyone are covered alike."""
        for method, operation in (operations or {}).items():
            if method not in ("get", "post", "put", "patch", "delete") or not isinstance(operation, dict):
                continue
            self._optional_body(operation)
            responses = {str(key): value for key, value in operation.get("responses", {}).items() if key != "default"}
            for status in error_statuses(method, path or "", operation):
                responses.setdefault(str(status), None)
            for key, value in responses.items():
                if key.isdigit() and int(key) >= 400:
                    description = value.get("description") if isinstance(value, dict) else None
                    responses[key] = problem_doc(int(key), description)
            operation["responses"] = dict(sorted(responses.items()))
            if (method, path) in PUBLIC_OPERATIONS or operation.get("security") == []:
                operation["security"] = []
            else:
                operation.setdefault("security", [{"bearerAuth": []}])
