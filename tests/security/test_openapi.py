"""The OpenAPI document: every operation's errors as problem+json, its security, and bounded inputs."""

from __future__ import annotations

from typing import Any

PUBLIC = {
    ("post", "/api/v1/auth/token"),
    ("get", "/api/v1/healthz"),
    ("get", "/api/v1/health/engine"),  # the contract: no authentication for health
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


INT64 = (-(2**63), 2**63 - 1)
INT32_ID = (1, 2**31 - 1)  # ids are INTEGER columns: PostgreSQL's int4


def integers(doc: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """Return every integer of a schema, nested ones included, with its path."""
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return []
        seen = seen | {schema["$ref"]}
    schema = resolve(doc, schema)
    found = [(where, schema)] if schema.get("type") == "integer" or "integer" in (schema.get("type") or []) else []
    for key, sub in schema.get("properties", {}).items():
        found += integers(doc, sub, f"{where}.{key}", seen)
    for sub in (schema.get("items"), schema.get("additionalProperties")):
        if isinstance(sub, dict):
            found += integers(doc, sub, f"{where}[]", seen)
    return found


def is_id(where: str) -> bool:
    name = where.rsplit(".", 1)[-1].rsplit(" ", 1)[-1]
    return name in ("id", "before", "relaunch_of", "relaunched_as") or name.endswith("_id")


def test_every_integer_is_bounded_and_every_id_fits_an_integer_column(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    found: list[tuple[str, dict[str, Any]]] = []
    # flask-smorest's own, for its page-number pagination, which no operation uses (ours is by Link header)
    assert "PaginationMetadata" not in str(doc["paths"])
    for name in set(doc["components"]["schemas"]) - {"PaginationMetadata"}:
        found += integers(doc, {"$ref": f"#/components/schemas/{name}"}, name, set())
    for method, path, op in operations(doc):
        where = f"{method.upper()} {path}"
        for parameter in op.get("parameters", []):
            found += integers(doc, parameter.get("schema", {}), f"{where} {parameter['name']}", set())
        for content in op.get("requestBody", {}).get("content", {}).values():
            found += integers(doc, content["schema"], f"{where} body", set())
    ids = [where for where, _ in found if is_id(where)]
    assert "CallIn.community_id" in ids and "RequestIn.community_id" in ids and len(ids) > 20, ids
    wrong = []
    for where, schema in found:
        low, high = INT32_ID if is_id(where) else INT64
        if not (low <= schema.get("minimum", low - 1) and schema.get("maximum", high + 1) <= high):
            wrong.append((where, schema.get("minimum"), schema.get("maximum")))
    assert wrong == [], wrong


def test_a_body_id_beyond_the_database_is_a_422_not_a_500(make: Any) -> None:
    community = make.community()
    admin, operator = make.admin(), make.member(community, "operator")
    for huge in (10**20, 2**63, 2**31, 0, -1):
        call = {"community_id": huge, "source": "cot", "outcome": "emergency_15"}
        answer = make.call("POST", "/calls", admin, json=call)
        assert answer.status_code == 422, (huge, answer.json)
        assert answer.json["errors"]["community_id"] and answer.content_type == "application/problem+json"
        opened = make.call("POST", "/requests", operator, json={**make.request_body(community), "community_id": huge})
        assert opened.status_code == 422 and "community_id" in opened.json["errors"], (huge, opened.json)
    listed = make.call("GET", f"/requests?community_id={10**20}", make.admin())
    assert listed.status_code == 422
