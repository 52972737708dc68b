"""The data subject's endpoints are published in the OpenAPI document, with their bodies and their codes."""

from __future__ import annotations

from typing import Any

from tests.security.test_openapi import resolve

SUBJECT = "/api/v1/communities/{community_id}/subject-"


def _body(doc: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    return resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])


def test_access_erasure_and_rectification_are_published_with_their_codes(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    paths = doc["paths"]
    access, document, erasure = (paths[SUBJECT + tail]["post"] for tail in ("access", "access.pdf", "erasure"))
    rectify = paths["/api/v1/requests/{request_id}/patient"]["patch"]
    for op in (access, document, erasure, rectify):
        assert {"200", "400", "401", "403", "404", "413", "415", "422"} <= set(op["responses"]), op["responses"].keys()
        assert op["security"] == [{"bearerAuth": []}]
    for op in (access, document, erasure):
        subject = _body(doc, op)
        assert set(subject["required"]) == {"last_name", "first_name", "birth_date", "reference"}
        assert (
            subject["properties"]["birth_date"]["format"] == "date"
            and "registre" in subject["properties"]["reference"]["description"]
        )
    assert list(document["responses"]["200"]["content"]) == ["application/pdf"]
    answer = resolve(doc, access["responses"]["200"]["content"]["application/json"]["schema"])
    item = resolve(doc, answer["properties"]["requests"]["items"])
    assert {"events", "synthesis_text", "patient", "opened_at", "motive", "state"} <= set(item["properties"])
    erased = resolve(doc, erasure["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(erased["properties"]) == {"erased"}
    assert "open_request" in erasure["responses"]["409"]["description"]
    assert list(erasure["responses"]["409"]["content"]) == ["application/problem+json"]
    patch = _body(doc, rectify)
    assert set(patch["properties"]) == {"first_name", "last_name", "birth_date", "sex", "phone", "reference"}
    assert "required" not in patch and patch["properties"]["sex"]["enum"][:3] == ["F", "M", "U"]
    assert "409" in rectify["responses"] and "erased" in rectify["responses"]["409"]["description"]
    assert "get" not in paths[SUBJECT + "access"] and "get" not in paths[SUBJECT + "erasure"]  # identities are posted
