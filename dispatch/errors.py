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
    400: "malformed", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "too_many_attempts",
    500: "internal", 503: "unavailable",
}


class Problem(HTTPException):
    """An HTTP error carrying a machine code and a French detail."""

    def __init__(self, status: int, code: str | None = None, detail: str | None = None,
                 errors: dict[str, list[str]] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(description=detail)
        self.code = status
        self.problem_code = code or CODES.get(status, "error")
        self.detail = detail
        self.errors = errors
        self.extra_headers = headers or {}


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages into {"field.path": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
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


def problem_response(status: int, *, code: str | None = None, detail: str | None = None,
                     errors: dict[str, list[str]] | None = None, headers: dict[str, str] | None = None) -> Response:
    """Build the problem+json response for `status`."""
    body: dict[str, Any] = {
        "type": "about:blank" if status != 422 else "https://snp-dispatch.fr/problems/invalid",
        "title": TITLES.get(status, "Erreur"),
        "status": status,
        "detail": detail or TITLES.get(status, "Erreur"),
        "code": code or CODES.get(status, "error"),
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def from_http_exception(error: HTTPException) -> Response:
    """Translate any HTTP exception (ours, werkzeug's, webargs') into problem+json."""
    status = error.code or 500
    if isinstance(error, Problem):
        return problem_response(status, code=error.problem_code, detail=error.detail, errors=error.errors,
                                headers=error.extra_headers)
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
