"""A synthesis sent to the treating GP needs the patient's birth date: the accepting physician completes a request
opened without it, with the outcome (issue 15's gap: the ANS kit requires patient/birthTime/@value)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dispatch.db import db
from dispatch.requests.models import Request, Synthesis

SYNTHESIS = "Otite moyenne aiguë, amoxicilline 6 jours."


def opened_without_birth_date(make: Any, *, treating: str = "member") -> dict[str, Any]:
    """A request without a birth date, taken by a CAMI physician; the appointment has come."""
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician", name="Dr Paul Durand")
    cami = make.member(community, "physician", kind="cami")
    body = make.request_body(community, gp if treating == "member" else None)
    del body["patient"]["birth_date"]
    if treating == "none":
        body["treating_physician"] = {"status": "none"}
    response = make.call("POST", "/requests", operator, json=body)
    assert response.status_code == 201, response.json
    opened = response.json
    assert opened["patient"].get("birth_date") is None
    if opened["state"] == "exclusive":
        make.call("POST", f"/requests/{opened['id']}/refuse", gp, json={})
    assert make.accept(cami, opened["id"]).status_code == 200
    return {"request": opened, "operator": operator, "gp": gp, "cami": cami, "community": community}


def outcome(make: Any, w: dict[str, Any], **body: Any) -> Any:
    return make.call("POST", f"/requests/{w['request']['id']}/outcome", w["cami"], json=body)


def stored(request_id: int) -> Request:
    request = db.session.get(Request, request_id, populate_existing=True)
    assert request is not None
    return request


def test_seen_without_the_birth_date_is_refused_when_the_synthesis_goes_to_the_gp(make: Any) -> None:
    w = opened_without_birth_date(make)
    response = outcome(make, w, outcome="seen", synthesis=SYNTHESIS)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "birth_date_required"
    assert "date de naissance" in response.json["detail"] and "carte Vitale" in response.json["detail"]
    assert list(response.json["errors"]) == ["patient_birth_date"]
    # Nothing recorded: the physician sends it again with the date.
    assert stored(w["request"]["id"]).state == "accepted"
    assert db.session.scalars(select(Synthesis)).all() == []


def test_the_birth_date_given_with_the_outcome_completes_the_request_and_the_event_holds_no_date(make: Any, ports: Any) -> None:
    w = opened_without_birth_date(make)
    response = outcome(make, w, outcome="seen", synthesis=SYNTHESIS, patient_birth_date="1988-04-02")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "seen"
    assert response.json["patient"]["birth_date"] == "1988-04-02" and response.json["patient"]["age"] == 38
    assert str(stored(w["request"]["id"]).patient_birth_date) == "1988-04-02"
    events = make.call("GET", f"/requests/{w['request']['id']}/events", w["operator"]).json
    types = [e["type"] for e in reversed(events)]
    assert types[-3:] == ["patient_birth_date_completed", "seen", "synthesis_written"]
    completed = next(e for e in events if e["type"] == "patient_birth_date_completed")
    assert completed["data"] == {} and completed["actor"]["id"] == w["cami"].user.id
    # What coordinators read of the trail: no birth date anywhere.
    coordinator = make.member(w["community"], "coordinator")
    trail = make.call("GET", f"/requests/{w['request']['id']}/events", coordinator)
    assert trail.status_code == 200 and "1988" not in trail.get_data(as_text=True)
    make.deliver()
    (mail,) = ports["mail"].sent
    assert "(née le 02/04/1988)" in " ".join(mail.get_body(("plain",)).get_content().split())


@pytest.mark.parametrize(
    "value, message",
    [
        ("2026-11-24", "dans le futur"),  # tomorrow in Paris (the clock is 23/11/2026, 14:00 UTC)
        ("1899-12-31", "1900"),
        ("2026-02-30", None),
        ("02/04/1988", None),
        ("", None),
        (19880402, None),
    ],
)
def test_an_invalid_birth_date_is_a_422_in_french(make: Any, value: object, message: str | None) -> None:
    w = opened_without_birth_date(make)
    response = outcome(make, w, outcome="seen", synthesis=SYNTHESIS, patient_birth_date=value)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json" and response.json["code"] == "invalid"
    (said,) = response.json["errors"]["patient_birth_date"]
    assert said and "date" in said.lower() and "not a valid" not in said.lower()
    if message:
        assert message in said
    assert stored(w["request"]["id"]).state == "accepted"


def test_today_is_a_valid_birth_date(make: Any) -> None:
    w = opened_without_birth_date(make)
    response = outcome(make, w, outcome="seen", synthesis=SYNTHESIS, patient_birth_date="2026-11-23")
    assert response.status_code == 200, response.json


def test_a_known_birth_date_is_kept_and_one_given_again_is_ignored(make: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    cami = make.member(community, "physician", kind="cami")
    gp = make.member(community, "physician")
    opened = make.open(operator, community, treating=gp)
    make.call("POST", f"/requests/{opened['id']}/refuse", gp, json={})
    assert make.accept(cami, opened["id"]).status_code == 200
    response = make.call(
        "POST",
        f"/requests/{opened['id']}/outcome",
        cami,
        json={"outcome": "seen", "synthesis": "RAS", "patient_birth_date": "1990-01-01"},
    )
    assert response.status_code == 200 and response.json["patient"]["birth_date"] == "1988-04-02"
    types = [e["type"] for e in make.call("GET", f"/requests/{opened['id']}/events", operator).json]
    assert "patient_birth_date_completed" not in types


@pytest.mark.parametrize("treating", ["none", "member"])
def test_no_birth_date_needed_when_no_synthesis_is_sent(make: Any, treating: str) -> None:
    """No treating GP (nothing sent), or the patient did not come: the outcome is recorded without it."""
    w = opened_without_birth_date(make, treating=treating)
    body: dict[str, Any] = {"outcome": "seen", "synthesis": SYNTHESIS} if treating == "none" else {"outcome": "no_show"}
    response = outcome(make, w, **body)
    assert response.status_code == 200, response.json
    assert stored(w["request"]["id"]).patient_birth_date is None


def test_the_openapi_documents_the_birth_date(make: Any) -> None:
    spec = make.client.get("/api/v1/openapi.json").json
    names = [name for name, schema in spec["components"]["schemas"].items() if "patient_birth_date" in schema.get("properties", {})]
    assert names, sorted(spec["components"]["schemas"])
    schema = spec["components"]["schemas"][names[0]]["properties"]["patient_birth_date"]
    assert schema["format"] == "date" and "birth_date_required" in schema["description"] and "Ignorée" in schema["description"]
    post = spec["paths"]["/api/v1/requests/{request_id}/outcome"]["post"]
    assert "birth_date_required" in post["description"]
