"""Schemathesis hooks for the fuzz run: errors must be problem+json, ids drawn near the existing ones."""

from __future__ import annotations

from typing import Any

import schemathesis

ID_PARAMETERS = ("request_id", "community_id", "device_id")


@schemathesis.check
def problem_json_errors(ctx: Any, response: Any, case: Any) -> None:
    """Fail when an error answer is not an RFC 9457 problem with our fields."""
    if response.status_code < 400:
        return None
    values = [v for k, v in response.headers.items() if k.lower() == "content-type"] or [""]
    content_type = values[0][0] if isinstance(values[0], list) else values[0]
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(f"error {response.status_code} answered as {content_type!r}, not problem+json")
    body = response.json()
    missing = {"type", "title", "status", "detail", "code"} - set(body)
    if missing or body["status"] != response.status_code:
        raise AssertionError(f"problem document incomplete or wrong status: {body!r}")
    return None


@schemathesis.hook
def map_path_parameters(ctx: Any, path_parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    """Point most generated ids at the few rows that exist, so that the views past the 404 are reached."""
    if not path_parameters:
        return path_parameters
    for name in ID_PARAMETERS:
        value = path_parameters.get(name)
        if isinstance(value, int) and 1 <= value < 10**6:  # out-of-range ids stay as drawn
            path_parameters[name] = value % 4 + 1
    return path_parameters


@schemathesis.hook
def map_query(ctx: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    """Drop query keys the document does not name: like most HTTP services we ignore them, and say so here."""
    if not query or ctx.operation is None:
        return query
    named = {parameter.name for parameter in ctx.operation.query}
    return {key: value for key, value in query.items() if key in named}
