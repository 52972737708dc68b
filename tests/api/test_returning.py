"""A returning patient (POST /communities/{id}/patients/recent): the community's requests of the last 30 days."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dispatch.audit.models import AccessRecord
from dispatch.db import db
from dispatch.requests.returning import normalized_name


def world(make: Any) -> dict[str, Any]:
    community = make.community()
    return {
        "community": community,
        "operator": make.member(community, "operator"),
        "coordinator": make.member(community, "coordinator"),
        "physician": make.member(community, "physician"),
    }


def later(make: Any, clock: Any, **delta: float) -> None:
    """Move the clock on (days, for the window); tokens live hours, so sign in again."""
    clock.advance(**delta)
    make.tokens.clear()


def recent(make: Any, who: Any, community: Any, **body: Any) -> Any:
    return make.call("POST", f"/communities/{community.id}/patients/recent", who, json=body)


def test_the_same_phone_finds_the_requests_of_the_last_30_days(make: Any, clock: Any) -> None:
    w = world(make)
    old = make.open(w["operator"], w["community"])  # Lucie Martin, +33612345678, 23 Nov
    later(make, clock, days=1)
    cancelled = make.open(w["operator"], w["community"], motive="respiratory")
    make.call("POST", f"/requests/{cancelled['id']}/cancel", w["operator"], json={"reason": "Vue ailleurs"})
    later(make, clock, days=29)  # the first is exactly 30 days old: still in
    assert [r["id"] for r in recent(make, w["operator"], w["community"], phone="+33612345678").json] == [cancelled["id"], old["id"]]
    later(make, clock, minutes=1)  # now 30 days and a minute
    response = recent(make, w["operator"], w["community"], phone="06 12 34 56 78")
    assert response.status_code == 200, response.json
    assert [r["id"] for r in response.json] == [cancelled["id"]]
    item = response.json[0]
    assert item["state"] == "cancelled" and item["motive"] == "respiratory" and item["matched_by"] == ["phone"]
    assert item["opened_at"] == "2026-11-24T14:00:00Z" and item["patient"]["last_name"] == "Martin"
    assert recent(make, w["operator"], w["community"], phone="06 12 34 56 79").json == []


def test_31_days_ago_is_not_shown_but_29_days_ago_is(make: Any, clock: Any) -> None:
    w = world(make)
    old = make.open(w["operator"], w["community"])
    later(make, clock, days=31)
    assert recent(make, w["operator"], w["community"], phone="+33612345678").json == []
    later(make, clock, days=-2)
    assert [r["id"] for r in recent(make, w["operator"], w["community"], phone="+33612345678").json] == [old["id"]]


def test_the_same_name_and_birth_date_match_whatever_the_case_accents_and_spaces(make: Any, clock: Any) -> None:
    w = world(make)
    patient = {"first_name": "Jean-Hervé", "last_name": "Le Guen", "birth_date": "1950-01-31", "phone": "+33698765432"}
    body = make.request_body(w["community"])
    body["patient"].update(patient)
    opened = make.call("POST", "/requests", w["operator"], json=body).json
    later(make, clock, hours=3)
    typed = {"first_name": " jean herve ", "last_name": "LEGUEN", "birth_date": "1950-01-31"}
    found = recent(make, w["operator"], w["community"], **typed).json
    assert [(r["id"], r["matched_by"]) for r in found] == [(opened["id"], ["identity"])]
    both = recent(make, w["operator"], w["community"], **typed, phone="06 98 76 54 32").json
    assert both[0]["matched_by"] == ["phone", "identity"]
    assert recent(make, w["operator"], w["community"], **{**typed, "birth_date": "1950-01-30"}).json == []
    assert recent(make, w["operator"], w["community"], **{**typed, "first_name": "Jeanne"}).json == []
    assert normalized_name("Œdipe  d'Ÿvré-Çà") == "oedipedyvreca"


def test_another_community_is_not_shown(make: Any) -> None:
    w = world(make)
    elsewhere = make.community()
    make.open(make.member(elsewhere, "operator"), elsewhere)  # the same patient, in another community
    assert recent(make, w["operator"], w["community"], phone="+33612345678").json == []


def test_only_operators_of_the_community(make: Any) -> None:
    w = world(make)
    make.open(w["operator"], w["community"])
    for who in ("physician", "coordinator"):
        response = recent(make, w[who], w["community"], phone="+33612345678")
        assert response.status_code == 403 and response.json["code"] == "forbidden", who
    assert recent(make, make.admin(), w["community"], phone="+33612345678").status_code == 403
    stranger = make.member(make.community(), "operator")
    assert recent(make, stranger, w["community"], phone="+33612345678").status_code == 404
    assert make.call("POST", "/communities/999999/patients/recent", w["operator"], json={"phone": "0612345678"}).status_code == 404
    assert make.call("POST", f"/communities/{w['community'].id}/patients/recent", json={"phone": "0612345678"}).status_code == 401


def test_bad_input_is_refused_in_french(make: Any) -> None:
    w = world(make)
    empty = recent(make, w["operator"], w["community"], last_name="Martin")
    assert empty.status_code == 422 and "téléphone" in empty.json["errors"]["phone"][0]
    bad = recent(make, w["operator"], w["community"], phone="12 34")
    assert bad.status_code == 422 and bad.json["errors"]["phone"] == ["Numéro de téléphone invalide."]
    assert recent(make, w["operator"], w["community"], phone="+33612345678", birth_date="31/01/1950").status_code == 422


def test_each_request_shown_is_recorded_in_the_access_trail(make: Any) -> None:
    w = world(make)
    opened = make.open(w["operator"], w["community"])
    assert len(recent(make, w["operator"], w["community"], phone="+33612345678").json) == 1
    records = db.session.scalars(select(AccessRecord).where(AccessRecord.what == "returning")).all()
    assert [(r.request_id, r.user_id) for r in records] == [(opened["id"], w["operator"].id)]


def test_published_in_the_openapi(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/communities/{community_id}/patients/recent"]["post"]
    assert set(operation["responses"]) >= {"200", "401", "403", "404", "422"}
    assert "get" not in spec["paths"]["/api/v1/communities/{community_id}/patients/recent"]
