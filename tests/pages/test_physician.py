"""The physician's pages: offers, anonymised view, accept with defaults, refuse, outcome, availability."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dispatch.db import db
from dispatch.pages.physician import parse_appointment, quick_time
from dispatch.requests.models import Request, Synthesis
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
    ("utc", "minutes", "expected"),
    [
        ((14, 0, 0), 30, "15:30"),  # 15:00 in Paris, on the dot: 30 min later exactly
        ((14, 0, 1), 30, "15:35"),  # a second past: the next five minutes
        ((14, 2, 0), 60, "16:05"),
        ((14, 55, 0), 120, "17:55"),
        ((22, 50, 0), 120, "01:50"),  # late evening: the next day, never moved back to today
    ],
)
def test_a_quick_choice_is_on_the_next_five_minutes(utc: tuple[int, int, int], minutes: int, expected: str) -> None:
    at = quick_time(datetime(2026, 11, 23, *utc, tzinfo=timezone.utc), minutes)
    assert at.astimezone(ZoneInfo(PARIS)).strftime("%H:%M") == expected


def test_appointment_is_the_date_and_time_given_and_never_moved_to_another_day() -> None:
    now = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # 15:00 in Paris
    assert parse_appointment("", "15:30", now, PARIS)[0].isoformat() == "2026-11-23T15:30:00+01:00"  # type: ignore[union-attr]
    assert parse_appointment("2026-11-24", "09:00", now, PARIS)[0].isoformat() == "2026-11-24T09:00:00+01:00"  # type: ignore[union-attr]
    # Read as typed, never moved to another day: whether it falls in the window is the machine's to say (one rule
    # for the page and the API, tests/domain/test_machine.py), and the accept use case's to explain.
    assert parse_appointment("2026-11-22", "16:00", now, PARIS)[0].isoformat() == "2026-11-22T16:00:00+01:00"  # type: ignore[union-attr]
    for day, hhmm in (("", "25:00"), ("", "midi"), ("23/11/2026", "16:00"), ("", "")):
        assert parse_appointment(day, hhmm, now, PARIS) == (
            None,
            "Indiquez la date et l'heure du rendez-vous (JJ/MM/AAAA et HH:MM).",
        )


def test_the_sms_link_asks_to_sign_in_then_shows_the_request(world: dict[str, Any], page_client: Any) -> None:
    link = f"/m/requests/{world['opened']['id']}"
    response = page_client.get(link)
    assert response.headers["Location"] == f"/connexion?next={link}"


def test_the_treating_gp_sees_the_patient_with_defaults(world: dict[str, Any], as_user: Any) -> None:
    gp = as_user(world["gp"])
    offers = gp.get("/m/").get_data(as_text=True)
    assert "ORL" in offers and "Pour vous (médecin traitant) · avant 16:00" in offers
    page = gp.get(f"/m/requests/{world['opened']['id']}").get_data(as_text=True)
    assert "Lucie Martin" in page and 'value="2026-11-23"' in page and 'value="12 rue Jaurès"' in page
    # No time preset to "now": quick choices with their times, or a time of one's own (issue 22).
    assert 'id="f-time" name="time" type="time" step="300" value=""' in page
    assert "Dans 30 min (15:30)" in page and "Dans 1 h (16:00)" in page and "Dans 2 h (17:00)" in page
    assert "checked" not in page.split('id="when"')[1].split("</fieldset>")[0]


def test_accepting_needs_a_time_chosen_and_a_quick_choice_fixes_it(world: dict[str, Any], as_user: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    none = gp.post(f"/m/requests/{rid}/accepter", {"date": "2026-11-23", "time": "", "place": "Cabinet"})
    assert none.status_code == 422 and db.session.get(Request, rid).state == "exclusive"
    assert "Choisissez l&#39;heure du rendez-vous" in none.get_data(as_text=True)
    assert gp.post(f"/m/requests/{rid}/accepter", {"in": "60", "time": "", "place": "Cabinet"}).status_code == 302
    taken = db.session.get(Request, rid)
    assert taken.state == "accepted" and taken.appointment_at == datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)


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
    assert (
        field_error(html, "appointment_at") == "Choisissez l&#39;heure du rendez-vous : dans 30 min, 1 h, 2 h, ou une autre heure."
    )
    assert field_error(html, "place") == "300 caractères au plus."
    assert db.session.get(Request, world["opened"]["id"]).state == "exclusive"


def test_the_treating_gp_refusing_opens_the_community(world: dict[str, Any], as_user: Any) -> None:
    response = as_user(world["gp"]).post(f"/m/requests/{world['opened']['id']}/refuser", {"reason": "En congé"})
    assert response.headers["Location"] == f"/m/?refusee={world['opened']['id']}"
    assert db.session.get(Request, world["opened"]["id"]).state == "community"
    assert "ORL" in as_user(world["other"]).get("/m/").get_data(as_text=True)


def test_outcome_needs_a_synthesis_when_seen(world: dict[str, Any], as_user: Any, clock: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    gp.post(f"/m/requests/{rid}/accepter", {"time": "15:30"})
    assert "Mes patients à voir" in gp.get("/m/").get_data(as_text=True)
    clock.advance(minutes=30)  # the appointment: from now on the outcome may be recorded
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


def test_the_accepting_physician_hands_the_patient_back_with_a_reason(world: dict[str, Any], as_user: Any, clock: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    gp.post(f"/m/requests/{rid}/accepter", {"time": "15:30"})
    page = gp.get(f"/m/requests/{rid}").get_data(as_text=True)
    assert "Me désister" in page
    missing = gp.post(f"/m/requests/{rid}/desister", {"reason": " "})
    assert missing.status_code == 422 and field_error(missing.get_data(as_text=True), "release_reason")
    response = gp.post(f"/m/requests/{rid}/desister", {"reason": "Urgence au cabinet"})
    assert response.status_code == 302 and response.headers["Location"] == "/m/"
    request = db.session.get(Request, rid)
    assert request.state == "community" and request.accepted_by_id is None and request.releases == 1
    assert "ORL" in as_user(world["other"]).get("/m/").get_data(as_text=True)
    assert "Me désister" not in gp.get(f"/m/requests/{rid}").get_data(as_text=True)


def test_no_hand_back_once_the_appointment_has_come(world: dict[str, Any], as_user: Any, clock: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    gp.post(f"/m/requests/{rid}/accepter", {"time": "15:30"})
    clock.advance(minutes=30)
    assert "Me désister" not in gp.get(f"/m/requests/{rid}").get_data(as_text=True)
    response = gp.post(f"/m/requests/{rid}/desister", {"reason": "Trop tard"})
    assert "désister" in gp.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.get(Request, rid).state == "accepted"
