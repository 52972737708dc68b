"""The operator console: triage, opening through the shared service, the live list, a request's page, cancel."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from dispatch.calls.models import Call
from dispatch.db import db
from dispatch.escalation.models import Request

FORM = {
    "triage": "snp",
    "source": "cot",
    "motive": "ent",
    "description": "Otalgie droite",
    "patient.first_name": "Lucie",
    "patient.last_name": "Martin",
    "patient.birth_date": "1988-04-02",
    "patient.sex": "F",
    "patient.phone": "06 12 34 56 78",
    "patient.postcode": "94500",
    "patient.city": "Champigny-sur-Marne",
    "treating_physician.status": "none",
}


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    return {
        "community": community,
        "operator": make.member(community, "operator"),
        "gp": make.member(community, "physician", name="Dr Paul Durand"),
        "other": make.member(community, "physician", name="Dr Awa Diallo", kind="cami"),
    }


def count() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Request)) or 0)


def field_error(html: str, field: str) -> str:
    """Return the error shown right under a field (its id is err-<field path with dashes>)."""
    match = re.search(rf'id="err-{re.escape(field.replace(".", "-"))}">([^<]+)<', html)
    assert match, f"no error next to {field}"
    return match.group(1)


def test_opening_a_request_with_a_member_treating_gp(world: dict[str, Any], as_user: Any) -> None:
    operator = as_user(world["operator"])
    form = {**FORM, "treating_physician.status": "declared", "treating_physician.rpps": world["gp"].rpps, "idempotency_key": "abc"}
    response = operator.post("/console", form)
    assert response.status_code == 302
    request = db.session.scalar(select(Request))
    assert response.headers["Location"] == f"/console/demandes/{request.id}"
    assert request.state == "exclusive" and request.treating_physician_id == world["gp"].id
    assert request.patient_phone == "+33612345678" and request.treating_name == "Dr Paul Durand"
    page = operator.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Demande n° {request.id} ouverte." in page and "Demande ouverte" in page  # flash and timeline
    assert operator.post("/console", form).status_code == 302 and count() == 1  # a double submit opens one


def test_an_outside_treating_gp_goes_to_the_directory(world: dict[str, Any], as_user: Any) -> None:
    form = {
        **FORM,
        "treating_physician.status": "declared",
        "treating_physician.name": "Dr Jean Extérieur",
        "treating_physician.mssante": "jean.exterieur@medecin.mssante.fr",
    }
    assert as_user(world["operator"]).post("/console", form).status_code == 302
    request = db.session.scalar(select(Request))
    assert request.state == "community" and request.treating_directory_id is not None
    assert request.treating_mssante == "jean.exterieur@medecin.mssante.fr"


@pytest.mark.parametrize("triage", ["vital", "refused"])
def test_triage_outside_the_protocol_opens_nothing(world: dict[str, Any], as_user: Any, triage: str) -> None:
    response = as_user(world["operator"]).post("/console", {**FORM, "triage": triage})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and count() == 0
    expected = "transférez l&#39;appel au 15" if triage == "vital" else "Renouvellement d&#39;ordonnance ou certificat"
    assert expected in html
    assert "Aucune demande n&#39;est créée." in html


@pytest.mark.parametrize(
    ("triage", "outcome"), [("vital", "emergency_15"), ("refused", "renewal_refused"), ("other", "other_orientation")]
)
def test_triage_without_a_request_counts_the_call_once(world: dict[str, Any], as_user: Any, triage: str, outcome: str) -> None:
    operator = as_user(world["operator"])
    form = {**FORM, "triage": triage, "idempotency_key": "form-1"}
    operator.post("/console", form)
    operator.post("/console", form)  # sent twice (a double click): one call
    calls = db.session.scalars(select(Call)).all()
    assert [(c.outcome, c.source, c.community_id) for c in calls] == [(outcome, FORM["source"], world["community"].id)]
    assert count() == 0


def test_form_errors_are_shown_next_to_their_fields_in_french(world: dict[str, Any], as_user: Any) -> None:
    form = {
        **FORM,
        "triage": "",
        "motive": "",
        "patient.last_name": "",
        "patient.postcode": "945",
        "patient.phone": "123456",
        "treating_physician.status": "declared",
    }
    response = as_user(world["operator"]).post("/console", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and count() == 0
    assert field_error(html, "triage") == "Appliquez le protocole : choisissez la nature de l&#39;appel."
    assert field_error(html, "motive") == "Champ obligatoire."
    assert field_error(html, "patient.last_name") == "Champ obligatoire."
    assert field_error(html, "patient.postcode") == "Code postal invalide."
    assert field_error(html, "patient.phone") == "Numéro de téléphone invalide."
    assert field_error(html, "treating_physician.rpps") == "Le RPPS ou le nom du médecin traitant déclaré est requis."
    assert 'value="Lucie"' in html  # what was typed stays


def test_the_same_errors_as_the_api(world: dict[str, Any], as_user: Any, make: Any) -> None:
    body = make.request_body(world["community"])
    body["patient"]["postcode"] = "945"
    api = make.call("POST", "/requests", world["operator"], json=body).json["errors"]
    html = as_user(world["operator"]).post("/console", {**FORM, "patient.postcode": "945"}).get_data(as_text=True)
    assert field_error(html, "patient.postcode") == api["patient.postcode"][0]


def test_searching_the_treating_gp_by_name_or_rpps(world: dict[str, Any], as_user: Any, make: Any) -> None:
    operator = as_user(world["operator"])
    found = operator.get("/console/medecins?q=durand").json
    assert found == [{"rpps": world["gp"].rpps, "name": "Dr Paul Durand", "kind": "médecin titulaire", "available": True}]
    assert [p["name"] for p in operator.get(f"/console/medecins?q={world['other'].rpps}").json] == ["Dr Awa Diallo"]
    assert operator.get("/console/medecins?q=%25").json == []  # a wildcard is a character, not a pattern
    elsewhere = make.community()
    make.member(elsewhere, "physician", name="Dr Paul Durandal")
    assert len(operator.get("/console/medecins?q=durand").json) == 1  # only this community's physicians


def test_live_list_counts_down_and_follows_states(world: dict[str, Any], as_user: Any, make: Any, clock: Any) -> None:
    opened = make.open(world["operator"], world["community"], treating=world["gp"])
    operator = as_user(world["operator"])
    live = operator.get("/console/live")
    assert live.headers["Cache-Control"] == "no-store"
    row = live.json["requests"][0]
    assert live.json["now"] == "2026-11-23T14:00:00Z"
    assert (row["id"], row["state"], row["deadline"]) == (opened["id"], "exclusive", "2026-11-23T15:00:00Z")
    assert row["patient"] == "Lucie MARTIN" and row["deadline_label"] == "16:00"
    clock.advance(hours=2)
    make.tick()
    row = operator.get("/console/live").json["requests"][0]
    assert row["state"] == "expired" and row["deadline"] is None
    page = operator.get(f"/console/demandes/{opened['id']}").get_data(as_text=True)
    assert "Demande expirée sans médecin" in page and "rappelez le patient" in page


def test_cancel_needs_a_reason_then_clears_the_request(world: dict[str, Any], as_user: Any, make: Any) -> None:
    opened = make.open(world["operator"], world["community"])
    operator = as_user(world["operator"])
    operator.get(f"/console/demandes/{opened['id']}")
    response = operator.post(f"/console/demandes/{opened['id']}/annuler", {"reason": " "})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "reason") == "Champ obligatoire."
    response = operator.post(f"/console/demandes/{opened['id']}/annuler", {"reason": "Le patient a trouvé un RDV"})
    assert response.status_code == 302
    assert db.session.get(Request, opened["id"]).state == "cancelled"
    again = operator.post(f"/console/demandes/{opened['id']}/annuler", {"reason": "encore"})
    assert "La demande n&#39;est plus ouverte." in operator.get(again.headers["Location"]).get_data(as_text=True)


def test_an_operator_of_another_community_sees_nothing(world: dict[str, Any], as_user: Any, make: Any) -> None:
    opened = make.open(world["operator"], world["community"])
    stranger = as_user(make.member(make.community(), "operator"))
    assert stranger.get(f"/console/demandes/{opened['id']}").status_code == 404
    assert stranger.get(f"/console?community={world['community'].id}").status_code == 404
    assert stranger.get("/console/live").json["requests"] == []
