"""The physician's pages: offers, anonymised view, accept with defaults, refuse, outcome, availability."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from dispatch.db import db
from dispatch.escalation.models import Request, Synthesis
from dispatch.pages.physician import appointment_from, next_quarter
from tests.pages.test_console import field_error

PARIS = "Europe/Paris"


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    world = {
        "community": community,
        "operator": make.member(community, "operator"),
        "gp": make.member(community, "physician", name="Dr Paul Durand", address="12 rue Jaurès"),
        "other": make.member(community, "physician", name="Dr Awa Diallo", kind="cami"),
    }
    world["opened"] = make.open(world["operator"], community, treating=world["gp"])
    return world


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ((14, 0, 0), "15:15"),
        ((14, 0, 1), "15:15"),
        ((14, 14, 59), "15:15"),
        ((14, 15, 0), "15:30"),
        ((22, 50, 0), "00:00"),
    ],
)
def test_next_quarter_hour_in_the_community_time_zone(utc: tuple[int, int, int], expected: str) -> None:
    assert next_quarter(datetime(2026, 11, 23, *utc, tzinfo=timezone.utc), PARIS) == expected


def test_appointment_time_is_the_next_occurrence_within_a_day() -> None:
    now = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # 15:00 in Paris
    assert appointment_from("15:30", now, PARIS) == "2026-11-23T15:30:00+01:00"
    assert appointment_from("14:31", now, PARIS) == "2026-11-23T14:31:00+01:00"  # just done, same day
    assert appointment_from("14:29", now, PARIS) == "2026-11-24T14:29:00+01:00"  # long past: tomorrow
    assert appointment_from("25:00", now, PARIS) is None and appointment_from("midi", now, PARIS) is None


def test_the_sms_link_asks_to_sign_in_then_shows_the_request(world: dict[str, Any], page_client: Any) -> None:
    link = f"/m/requests/{world['opened']['id']}"
    response = page_client.get(link)
    assert response.headers["Location"] == f"/connexion?next={link}"


def test_the_treating_gp_sees_the_patient_with_defaults(world: dict[str, Any], as_user: Any) -> None:
    gp = as_user(world["gp"])
    offers = gp.get("/m/").get_data(as_text=True)
    assert "ORL" in offers and "Pour vous (médecin traitant) · avant 16:00" in offers
    page = gp.get(f"/m/requests/{world['opened']['id']}").get_data(as_text=True)
    assert "Lucie Martin" in page and 'value="15:15"' in page and 'value="12 rue Jaurès"' in page


def test_a_physician_only_offered_sees_it_anonymised(world: dict[str, Any], as_user: Any, make: Any, clock: Any) -> None:
    other = as_user(world["other"])
    assert other.get(f"/m/requests/{world['opened']['id']}").status_code == 404  # not offered yet
    clock.advance(hours=1)
    make.tick()
    page = other.get(f"/m/requests/{world['opened']['id']}").get_data(as_text=True)
    for secret in ("Lucie", "Martin", "+33612345678", "1988", "Dr Paul Durand"):
        assert secret not in page
    assert "38 ans" in page and "Champigny-sur-Marne" in page


def test_accepting_takes_the_patient_once(world: dict[str, Any], as_user: Any, make: Any, clock: Any) -> None:
    clock.advance(hours=1)
    make.tick()
    other, gp = as_user(world["other"]), as_user(world["gp"])
    other.get(f"/m/requests/{world['opened']['id']}")
    response = other.post(f"/m/requests/{world['opened']['id']}/accepter", {"time": "16:15", "place": ""})
    assert response.status_code == 302
    request = db.session.get(Request, world["opened"]["id"])
    assert request.state == "accepted" and request.accepted_by_id == world["other"].id
    assert request.appointment_at == datetime(2026, 11, 23, 15, 15, tzinfo=timezone.utc)
    assert "Lucie Martin" in other.get(response.headers["Location"]).get_data(as_text=True)
    late = gp.post(f"/m/requests/{world['opened']['id']}/accepter", {"time": "16:30"})
    assert "déjà été acceptée par un autre médecin" in gp.get(late.headers["Location"]).get_data(as_text=True)


def test_accept_errors_are_shown_next_to_the_field(world: dict[str, Any], as_user: Any) -> None:
    gp = as_user(world["gp"])
    response = gp.post(f"/m/requests/{world['opened']['id']}/accepter", {"time": "", "place": "x" * 301})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "appointment_at") == "Indiquez l&#39;heure du rendez-vous (HH:MM)."
    assert field_error(html, "place") == "Entre 1 et 300 caractères."
    assert db.session.get(Request, world["opened"]["id"]).state == "exclusive"


def test_the_treating_gp_refusing_opens_the_community(world: dict[str, Any], as_user: Any) -> None:
    response = as_user(world["gp"]).post(f"/m/requests/{world['opened']['id']}/refuser", {"reason": "En congé"})
    assert response.headers["Location"] == "/m/"
    assert db.session.get(Request, world["opened"]["id"]).state == "community"
    assert "ORL" in as_user(world["other"]).get("/m/").get_data(as_text=True)


def test_outcome_needs_a_synthesis_when_seen(world: dict[str, Any], as_user: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    gp.post(f"/m/requests/{rid}/accepter", {"time": "15:30"})
    assert "Mes patients à voir" in gp.get("/m/").get_data(as_text=True)
    response = gp.post(f"/m/requests/{rid}/issue", {"outcome": "seen", "synthesis": ""})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "synthesis") == "La synthèse est obligatoire quand le patient a été vu."
    response = gp.post(f"/m/requests/{rid}/issue", {"outcome": "seen", "synthesis": "Otite moyenne aiguë."})
    assert response.status_code == 302
    assert db.session.get(Request, rid).state == "seen"
    assert db.session.query(Synthesis).one().text == "Otite moyenne aiguë."


def test_only_the_accepting_physician_records_the_outcome(world: dict[str, Any], as_user: Any) -> None:
    gp = as_user(world["gp"])
    gp.post(f"/m/requests/{world['opened']['id']}/accepter", {"time": "15:30"})
    other = as_user(world["other"])
    assert other.post(f"/m/requests/{world['opened']['id']}/issue", {"outcome": "no_show"}).status_code == 404


def test_availability_switch(world: dict[str, Any], as_user: Any) -> None:
    gp = as_user(world["gp"])
    assert "Disponible : je reçois les demandes" in gp.get("/m/").get_data(as_text=True)
    gp.post("/m/disponibilite", {"available": "0"})
    db.session.refresh(world["gp"])
    assert world["gp"].available is False
    assert "Indisponible : je ne reçois rien" in gp.get("/m/").get_data(as_text=True)
