"""The OpenAPI document: every operation's errors as problem+json, its security, and bounded inputs."""

from __future__ import annotations

from typing import Any

PUBLIC = {
    ("post", "/api/v1/auth/token"),
    ("get", "/api/v1/healthz"),
    ("post", "/api/v1/webhooks/twilio/status"),
    ("get", "/api/v1/webpush/key"),
}
METHODS = ("get", "post", "put", "patch", "delete")


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in doc["paths"].items() for method, op in item.items() if method in METHODS]


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def unbounded_strings(doc: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """Return the paths of string inputs with neither maxLength, enum, pattern nor a fixed format."""
    if "$ref" in schema:
        name = schema["$ref"]
        if name in seen:
            return []
        seen = seen | {name}
    schema = resolve(doc, schema)
    found: list[str] = []
    if (
        schema.get("type") == "string"
        and not ({"maxLength", "enum", "pattern"} & set(schema))
        and schema.get("format") not in ("date", "date-time")
    ):
        found.append(where)
    for key, sub in schema.get("properties", {}).items():
        found += unbounded_strings(doc, sub, f"{where}.{key}", seen)
    if isinstance(schema.get("items"), dict):
        found += unbounded_strings(doc, schema["items"], f"{where}[]", seen)
    return found


def test_every_operation_documents_its_errors_and_security(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Jeton obtenu par POST /api/v1/auth/token.",
    }
    assert set(resolve(doc, {"$ref": "#/components/schemas/Problem"})["required"]) == {"type", "title", "status", "detail", "code"}
    for method, path, op in operations(doc):
        where = f"{method.upper()} {path}"
        statuses = {int(s) for s in op["responses"] if s.isdigit()}
        assert "default" not in op["responses"], where
        for status in statuses - set(range(100, 400)):
            content = op["responses"][str(status)]["content"]
            assert list(content) == ["application/problem+json"], where
        assert 413 in statuses, where
        if (method, path) in PUBLIC:
            assert op["security"] == [], where
        else:
            assert op["security"] == [{"bearerAuth": []}] and {401, 403} <= statuses, where
        if "{" in path:
            assert 404 in statuses, where
        if "requestBody" in op:
            assert {400, 415, 422} <= statuses, where
    token = doc["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert {"401", "429"} <= set(token)
    assert doc["paths"]["/api/v1/requests/{request_id}/access"]["get"]["parameters"]


def test_every_string_input_is_bounded(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    unbounded: list[str] = []
    for method, path, op in operations(doc):
        where = f"{method.upper()} {path}"
        for parameter in op.get("parameters", []):
            unbounded += unbounded_strings(doc, parameter.get("schema", {}), f"{where} {parameter['name']}", set())
        for content in op.get("requestBody", {}).get("content", {}).values():
            unbounded += unbounded_strings(doc, content["schema"], f"{where} body", set())
    assert unbounded == []
