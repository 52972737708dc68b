"""Bad input answers a clear problem+json with the right status, never a 500 nor a half-written request."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from dispatch.db import db
from dispatch.requests.models import Request


def problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    if code:
        assert body["code"] == code
    return body  # type: ignore[no-any-return]


def requests_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Request)) or 0


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    return {
        "community": community,
        "operator": make.member(community, "operator"),
        "physician": make.member(community, "physician"),
        "coordinator": make.member(community, "coordinator"),
    }


def test_no_token_or_bad_token_is_401(make: Any, client: Any) -> None:
    problem(client.get("/api/v1/me"), 401, "unauthorized")
    problem(client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}), 401)
    problem(client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401)
    problem(client.post("/api/v1/requests", json={}), 401)


def test_revoked_and_expired_tokens_are_refused(make: Any, world: Any, clock: Any) -> None:
    token = make.token(world["operator"])
    headers = {"Authorization": f"Bearer {token}"}
    assert make.client.get("/api/v1/me", headers=headers).status_code == 200
    assert make.client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    problem(make.client.get("/api/v1/me", headers=headers), 401)
    make.tokens.clear()
    fresh = {"Authorization": f"Bearer {make.token(world['operator'])}"}
    clock.advance(seconds=43200)
    problem(make.client.get("/api/v1/me", headers=fresh), 401)


def test_sign_in_failures_then_429(make: Any, world: Any) -> None:
    login = world["operator"].login
    body = problem(make.client.post("/api/v1/auth/token", json={"login": login, "password": "wrong"}), 401, "bad_credentials")
    assert "password" not in str(body).lower() or "mot de passe" in body["detail"]
    for _ in range(4):
        problem(make.client.post("/api/v1/auth/token", json={"login": login, "password": "wrong"}), 401)
    response = make.client.post("/api/v1/auth/token", json={"login": login, "password": "correct horse battery"})
    problem(response, 429, "too_many_attempts")
    assert int(response.headers["Retry-After"]) > 0
    problem(make.client.post("/api/v1/auth/token", json={"login": "nobody", "password": "x"}), 401)


def test_malformed_json_is_400_and_writes_nothing(make: Any, world: Any) -> None:
    response = make.call(
        "POST", "/requests", world["operator"], data='{"community_id": 1,', headers={"Content-Type": "application/json"}
    )
    problem(response, 400, "malformed")
    assert requests_count() == 0


def test_not_json_is_415(make: Any, world: Any) -> None:
    response = make.call(
        "POST", "/requests", world["operator"], data="community_id=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    problem(response, 415)
    problem(make.call("POST", "/requests", world["operator"], data="x", headers={"Content-Type": "text/plain"}), 415)


def test_body_over_one_mebibyte_is_413(make: Any, world: Any) -> None:
    huge = '{"description": "' + "a" * (1024 * 1024) + '"}'
    response = make.call("POST", "/requests", world["operator"], data=huge, headers={"Content-Type": "application/json"})
    problem(response, 413)
    assert requests_count() == 0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"community_id": "1"}, "community_id"),
        ({"source": "fax"}, "source"),
        ({"motive": "vital"}, "motive"),
        ({"patient": {"first_name": "", "last_name": "Martin"}}, "patient.first_name"),
        ({"patient": {"first_name": "Lucie", "last_name": "Martin", "phone": "0612"}}, "patient.phone"),
        ({"patient": {"first_name": "Lucie", "last_name": "Martin", "phone": "not a phone"}}, "patient.phone"),
        ({"patient": {"first_name": "Lucie", "last_name": "Martin", "birth_date": "02/04/1988"}}, "patient.birth_date"),
        ({"patient": {"first_name": "Lucie", "last_name": "Martin", "postcode": "945"}}, "patient.postcode"),
        ({"patient": {"first_name": "Lucie", "last_name": "Martin", "sex": 1}}, "patient.sex"),
        ({"patient": "Lucie Martin"}, "patient"),
        ({"treating_physician": {"status": "declared"}}, "treating_physician.rpps"),
        ({"treating_physician": {"status": "declared", "rpps": "123"}}, "treating_physician.rpps"),
        ({"treating_physician": {"status": "maybe"}}, "treating_physician.status"),
        (
            {"treating_physician": {"status": "declared", "name": "Dr X", "mssante": "pas-une-adresse"}},
            "treating_physician.mssante",
        ),
        ({"unexpected": True}, "unexpected"),
        ({"description": "x" * 5000}, "description"),
    ],
)
def test_invalid_fields_are_422_with_per_field_errors(make: Any, world: Any, change: dict[str, Any], field: str) -> None:
    body = make.request_body(world["community"])
    body.update(change)
    response = make.call("POST", "/requests", world["operator"], json=body)
    errors = problem(response, 422, "invalid")["errors"]
    assert field in errors, errors
    assert all(isinstance(m, str) for messages in errors.values() for m in messages)
    assert requests_count() == 0


@pytest.mark.parametrize("payload", [[], "text", 42, None])
def test_json_that_is_not_an_object_is_422(make: Any, world: Any, payload: Any) -> None:
    import json

    response = make.call(
        "POST", "/requests", world["operator"], data=json.dumps(payload), headers={"Content-Type": "application/json"}
    )
    problem(response, 422)


def test_wrong_role_is_403(make: Any, world: Any) -> None:
    body = make.request_body(world["community"])
    problem(make.call("POST", "/requests", world["physician"], json=body), 403)
    problem(make.call("GET", "/requests", world["physician"]), 403)
    problem(make.call("POST", "/communities", world["coordinator"], json={"name": "X"}), 403)
    problem(make.call("PUT", "/me/availability", world["operator"], json={"available": False}), 403)
    problem(make.call("GET", f"/communities/{world['community'].id}/members", world["operator"]), 403)


def test_other_community_is_404_never_403(make: Any, world: Any) -> None:
    other = make.community()
    stranger = make.member(other, "operator")
    stranger_physician = make.member(other, "physician")
    opened = make.open(world["operator"], world["community"])
    for who in (stranger, stranger_physician):
        problem(make.call("GET", f"/requests/{opened['id']}", who), 404)
    problem(make.call("POST", f"/requests/{opened['id']}/cancel", stranger, json={"reason": "x"}), 404)
    problem(make.call("GET", f"/requests/{opened['id']}/events", stranger), 404)
    problem(make.accept(stranger_physician, opened["id"]), 404)
    problem(make.call("GET", f"/communities/{world['community'].id}", make.member(other, "coordinator")), 404)
    assert make.call("GET", "/requests", stranger).json == []
    # Opening in a community one is not part of reads as an unknown community.
    response = make.call("POST", "/requests", stranger, json=make.request_body(world["community"]))
    problem(response, 422)
    problem(make.call("GET", "/requests/999999", world["operator"]), 404)


def test_conflicts_are_409(make: Any, world: Any, clock: Any) -> None:
    second = make.member(world["community"], "physician")
    opened = make.open(world["operator"], world["community"])
    assert make.accept(world["physician"], opened["id"]).status_code == 200
    problem(make.accept(second, opened["id"]), 409, "already_accepted")
    problem(make.call("POST", f"/requests/{opened['id']}/cancel", world["operator"], json={"reason": "doublon"}), 409, "closed")
    expiring = make.open(world["operator"], world["community"])
    clock.advance(seconds=7200)
    problem(make.accept(second, expiring["id"]), 409, "closed")
    make.tick()
    problem(make.accept(second, expiring["id"]), 409, "closed")
    outcome = {"outcome": "no_show"}
    assert make.call("POST", f"/requests/{opened['id']}/outcome", world["physician"], json=outcome).status_code == 200
    problem(make.call("POST", f"/requests/{opened['id']}/outcome", world["physician"], json=outcome), 409, "already_recorded")


def test_outcome_seen_needs_a_synthesis(make: Any, world: Any) -> None:
    opened = make.open(world["operator"], world["community"])
    make.accept(world["physician"], opened["id"])
    body = problem(make.call("POST", f"/requests/{opened['id']}/outcome", world["physician"], json={"outcome": "seen"}), 422)
    assert "synthesis" in body["errors"]


def test_appointment_must_be_within_a_day(make: Any, world: Any, clock: Any) -> None:
    opened = make.open(world["operator"], world["community"])
    response = make.call(
        "POST", f"/requests/{opened['id']}/accept", world["physician"], json={"appointment_at": "2026-11-30T10:00:00+01:00"}
    )
    assert "appointment_at" in problem(response, 422)["errors"]
    response = make.call(
        "POST", f"/requests/{opened['id']}/accept", world["physician"], json={"appointment_at": "2026-11-23T16:00:00"}
    )
    assert "appointment_at" in problem(response, 422)["errors"]


def test_unknown_route_and_method(make: Any, world: Any) -> None:
    problem(make.call("GET", "/nothing-here", world["operator"]), 404)
    problem(make.call("DELETE", "/requests", world["operator"]), 405)


def test_idempotency_key_answers_the_same_request(make: Any, world: Any) -> None:
    body = make.request_body(world["community"])
    headers = {"Idempotency-Key": "call-2026-11-23-0001"}
    first = make.call("POST", "/requests", world["operator"], json=body, headers=dict(headers))
    second = make.call("POST", "/requests", world["operator"], json=body, headers=dict(headers))
    assert first.status_code == second.status_code == 201
    assert first.json["id"] == second.json["id"] and requests_count() == 1
