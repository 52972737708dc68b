"""Rules per profession (GET/PUT /communities/{id}/rules), and the waves by distance they give a running request."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.db import db
from dispatch.events import Event
from dispatch.requests.models import Offer, Request

PATIENT = (48.8172, 2.5156)  # Champigny-sur-Marne
PER_KM = 180 / (math.pi * 6371.0088)  # degrees of latitude per kilometre on the mean sphere


def north(km: float) -> dict[str, float]:
    return {"lat": PATIENT[0] + km * PER_KM, "lon": PATIENT[1]}


def nurse(make: Any, community: Any, km: float | None, **fields: Any) -> Any:
    place = north(km) if km is not None else {}
    return make.member(community, "physician", profession="60", kind="titulaire", **place, **fields)


def open_nurse_request(make: Any, operator: Any, community: Any, usual: Any) -> dict[str, Any]:
    body = make.request_body(community, profession="60", acts=["pansement"])
    del body["treating_physician"], body["motive"]
    body["usual_professional"] = {"status": "declared", "rpps": usual.rpps}
    response = make.call("POST", "/requests", operator, json=body)
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def place_patient(request_id: int, lat: float | None, lon: float | None) -> None:
    """Stand in for the geocoding step to come: the patient's place, set on the request directly."""
    request = db.session.get(Request, request_id)
    assert request is not None
    request.patient_lat, request.patient_lon = lat, lon
    db.session.commit()


def offers(request_id: int) -> dict[int, float | None]:
    rows = db.session.execute(select(Offer.physician_id, Offer.distance_km).where(Offer.request_id == request_id))
    return {physician_id: distance for physician_id, distance in rows}


def test_the_defaults_10_and_60_and_any_member_reads_them(make: Any) -> None:
    community = make.community()
    physician = make.member(community, "physician")
    rules = {rule["profession"]: rule for rule in make.call("GET", f"/communities/{community.id}/rules", physician).json}
    assert list(rules) == ["10", "21", "40", "50", "60", "70"]
    assert rules["10"] == {"profession": "10", "exclusive_s": 3600, "response_s": 7200, "waves": []}
    assert rules["60"] == {
        "profession": "60",
        "exclusive_s": 21600,
        "response_s": 43200,
        "waves": [{"after_s": 21600, "radius_km": 10.0}],
    }
    stranger = make.member(make.community(), "coordinator")
    assert make.call("GET", f"/communities/{community.id}/rules", stranger).status_code == 404


def test_coordinators_set_a_profession_s_rules_and_nobody_else(make: Any) -> None:
    community = make.community()
    coordinator, operator = make.member(community, "coordinator"), make.member(community, "operator")
    body = {
        "exclusive_s": 1800,
        "response_s": 14400,
        "waves": [{"after_s": 1800, "radius_km": 5}, {"after_s": 7200, "radius_km": 15}],
    }
    assert make.call("PUT", f"/communities/{community.id}/rules/70", operator, json=body).status_code == 403
    answer = make.call("PUT", f"/communities/{community.id}/rules/70", coordinator, json=body)
    assert answer.status_code == 200 and answer.json["waves"][1] == {"after_s": 7200, "radius_km": 15.0}
    assert make.call("PUT", f"/communities/{community.id}/rules/99", coordinator, json=body).status_code == 404
    shrinking = {**body, "waves": [{"after_s": 1800, "radius_km": 15}, {"after_s": 7200, "radius_km": 5}]}
    refused = make.call("PUT", f"/communities/{community.id}/rules/70", coordinator, json=shrinking)
    assert refused.status_code == 422 and "waves" in refused.json["errors"]
    # A physician's windows are the community's own.
    make.call("PUT", f"/communities/{community.id}/rules/10", coordinator, json={"exclusive_s": 1200, "response_s": 5400})
    assert make.call("GET", f"/communities/{community.id}", coordinator).json["exclusive_window_s"] == 1200


@pytest.mark.parametrize("seconds", [21599, 21600])
def test_a_nurse_at_9_9_km_and_one_at_10_1_km_at_the_second_the_wave_opens(make: Any, clock: Any, seconds: int) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    usual, near, far = nurse(make, community, 3.0), nurse(make, community, 9.9), nurse(make, community, 10.1)
    doctor = make.member(community, "physician", **north(0.5))
    opened = open_nurse_request(make, operator, community, usual)
    place_patient(opened["id"], *PATIENT)
    assert opened["state"] == "exclusive" and set(offers(opened["id"])) == {usual.id}
    clock.advance(seconds=seconds)
    make.tick()
    reached = offers(opened["id"])
    if seconds == 21599:
        assert set(reached) == {usual.id}
        return
    assert set(reached) == {usual.id, near.id}
    assert reached[near.id] == pytest.approx(9.9, abs=0.001)
    # Never beyond the last wave's radius, nor to another profession, until the request expires.
    for _ in range(3):
        clock.advance(seconds=7200)
        make.tick()
    assert far.id not in offers(opened["id"]) and doctor.id not in offers(opened["id"])
    assert db.session.get(Request, opened["id"]).state == "expired"


def test_an_unplaced_patient_goes_to_every_nurse_and_the_operator_is_told(make: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    usual, near, far = nurse(make, community, 3.0), nurse(make, community, 9.9), nurse(make, community, 25.0)
    opened = open_nurse_request(make, operator, community, usual)
    clock.advance(seconds=21600)
    make.tick()
    assert set(offers(opened["id"])) == {usual.id, near.id, far.id}
    events = make.call("GET", f"/requests/{opened['id']}/events", operator).json
    assert "unplaced" in [event["type"] for event in events]


def test_an_edit_of_the_rules_never_changes_a_running_request(make: Any, clock: Any) -> None:
    community = make.community()
    operator, coordinator = make.member(community, "operator"), make.member(community, "coordinator")
    usual, near = nurse(make, community, 3.0), nurse(make, community, 9.9)
    opened = open_nurse_request(make, operator, community, usual)
    place_patient(opened["id"], *PATIENT)
    edit = {"exclusive_s": 600, "response_s": 3600, "waves": [{"after_s": 600, "radius_km": 1}]}
    assert make.call("PUT", f"/communities/{community.id}/rules/60", coordinator, json=edit).status_code == 200
    clock.advance(seconds=600)
    make.tick()
    assert set(offers(opened["id"])) == {usual.id}  # still the usual nurse's six hours
    clock.advance(seconds=21000)
    make.tick()
    assert near.id in offers(opened["id"])
    later = open_nurse_request(make, operator, community, usual)
    assert later["expires_at"] != opened["expires_at"]
    request = db.session.get(Request, later["id"])
    assert request is not None and request.plan_waves == [{"after_s": 600, "radius_km": 1.0}]
    assert db.session.scalar(select(Event.id).where(Event.request_id == later["id"], Event.type == "opened")) is not None


def test_a_member_s_practice_is_placed_with_lat_and_lon_together(make: Any) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    from tests.conftest import luhn_rpps

    body = {
        "role": "professional",
        "profession": "60",
        "login": "inf.p",
        "name": "P",
        "password": "x" * 12,
        "rpps": luhn_rpps(9101),
    }
    assert make.call("POST", f"/communities/{community.id}/members", coordinator, json={**body, "lat": 48.8}).status_code == 422
    made = make.call("POST", f"/communities/{community.id}/members", coordinator, json={**body, "lat": 48.8, "lon": 2.5})
    assert made.status_code == 201
    member = make.call("GET", f"/communities/{community.id}/members/{made.json['user_id']}", coordinator).json
    assert (member["physician"]["lat"], member["physician"]["lon"]) == (48.8, 2.5)
