"""Issue 27: the requester's phone pages (open a request for the patient in front of them, follow their own) and the
physician's accept form asking for the teleconsultation link."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dispatch.auth.models import User
from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from dispatch.requests.models import Request
from tests.conftest import PASSWORD
from tests.pages.test_dashboard import loose_spaces

LINK = "https://visio.teleconsult.example.fr/salle/8f3a"


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    community.teleconsultation_hosts = [".teleconsult.example.fr"]
    db.session.commit()
    return {
        "community": community,
        "nurse": make.member(community, "requester", finess="750712184", profession=None, name="Inès Ehpad", phone="+33611112222"),
        "other": make.member(community, "requester", rpps="10000009992", profession="21", name="Paul Pharmacie"),
        "operator": make.member(community, "operator"),
        "physician": make.member(community, "physician", name="Dr Anne Visio"),
    }


FORM = {
    "source": "ehpad",
    "motive": "respiratory",
    "description": "Toux fébrile",
    "patient.last_name": "Lemoine",
    "patient.first_name": "Jeanne",
    "patient.birth_date": "1936-02-11",
    "patient.sex": "F",
    "patient.phone": "06 98 76 54 32",
    "treating_physician.status": "unknown",
    "modality": "teleconsultation",
    "observations.systolic": "128",
    "observations.diastolic": "76",
    "observations.temperature_c": "38,4",
    "observations.spo2": "93",
}


def test_a_requester_signs_in_to_their_requests_and_opens_one_with_consent(as_user: Any, world: dict[str, Any]) -> None:
    nurse = as_user(world["nurse"])
    home = nurse.get("/demandes")
    assert home.status_code == 200 and "Vous n'avez encore ouvert aucune demande." in home.get_data(as_text=True)
    form = nurse.get("/demandes/nouvelle")
    assert form.status_code == 200 and 'name="consent"' in form.get_data(as_text=True)

    refused = nurse.post("/demandes/nouvelle", FORM)  # the consent box not ticked
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Le consentement du patient est obligatoire" in page
    assert 'value="Lemoine"' in page  # what was typed comes back
    assert db.session.scalar(select(Request.id)) is None

    bad = nurse.post("/demandes/nouvelle", FORM | {"consent": "1", "observations.spo2": "120"})
    assert bad.status_code == 422 and "err-observations-spo2" in bad.get_data(as_text=True)

    sent = nurse.post("/demandes/nouvelle", FORM | {"consent": "1"})
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/demandes")
    request = db.session.scalar(select(Request))
    assert request is not None and request.modality == "teleconsultation" and request.consent_at is not None
    assert request.patient_phone == "+33698765432" and request.source == "ehpad"
    listed = nurse.get("/demandes").get_data(as_text=True)
    assert f"Demande n° {request.id}" in listed and "Jeanne Lemoine" in listed and "Téléconsultation" in listed
    assert "SpO2 93 %" in listed and "T° 38,4 °C" in listed
    for html in (listed, page, nurse.get("/demandes/nouvelle").get_data(as_text=True)):
        assert loose_spaces(html) == []  # French typography: a no-break space before ':' and ';'


def test_the_physician_gives_the_link_on_the_phone_page_and_the_requester_sees_it(
    as_user: Any, world: dict[str, Any], make: Any, clock: Any
) -> None:
    nurse = as_user(world["nurse"])
    nurse.get("/demandes/nouvelle")
    assert nurse.post("/demandes/nouvelle", FORM | {"consent": "1"}).status_code == 302
    request_id = db.session.scalar(select(Request.id))
    physician = as_user(world["physician"])
    offer = physician.get(f"/m/requests/{request_id}").get_data(as_text=True)
    assert 'name="teleconsultation_url"' in offer and "Téléconsultation" in offer

    missing = physician.post(f"/m/requests/{request_id}/accepter", {"in": "30"})
    assert missing.status_code == 422 and "err-teleconsultation_url" in missing.get_data(as_text=True)
    elsewhere = physician.post(
        f"/m/requests/{request_id}/accepter", {"in": "30", "teleconsultation_url": "https://evil.example.com/x"}
    )
    assert elsewhere.status_code == 422 and "autorisé par la communauté" in elsewhere.get_data(as_text=True)
    taken = physician.post(f"/m/requests/{request_id}/accepter", {"in": "30", "teleconsultation_url": LINK})
    assert taken.status_code == 302
    mine = physician.get(f"/m/requests/{request_id}").get_data(as_text=True)
    assert LINK in mine and "SpO2 93 %" in mine and "Jeanne" in mine

    listed = nurse.get("/demandes").get_data(as_text=True)
    assert "Dr Anne Visio" in listed and LINK in listed and "Rendez-vous" in listed
    kinds = set(db.session.scalars(select(OutboxMessage.kind)))
    assert {"accepted_requester", "patient_appointment"} <= kinds


def test_a_requester_sees_nothing_of_anyone_else_on_the_pages(as_user: Any, world: dict[str, Any], make: Any) -> None:
    opened = make.open(world["operator"], world["community"])
    other = as_user(world["other"])
    assert other.get(f"/console/requests/{opened['id']}").status_code in (403, 404)
    assert other.get("/console").status_code == 403
    assert "Martin" not in other.get("/demandes").get_data(as_text=True)
    operator = as_user(world["operator"])
    assert operator.get("/demandes").status_code == 403


def test_a_coordinator_adds_a_requester_on_the_members_page(as_user: Any, world: dict[str, Any], make: Any) -> None:
    coordinator = as_user(make.member(world["community"], "coordinator"))
    coordinator.get("/pilotage/membres")
    form = {"role": "requester", "name": "EHPAD Les Tilleuls", "login": "tilleuls", "access": "password", "password": PASSWORD}
    bad = coordinator.post("/pilotage/membres", form | {"finess": "940000129"})
    assert bad.status_code == 422 and "Numéro FINESS invalide" in bad.get_data(as_text=True)
    added = coordinator.post("/pilotage/membres", form | {"finess": "940000128", "kind": "cami"})
    assert added.status_code == 302, added.get_data(as_text=True)
    page = coordinator.get("/pilotage/membres").get_data(as_text=True)
    assert "EHPAD Les Tilleuls" in page and "Demandeur" in page
    requester = as_user(db.session.scalar(select(User).where(User.login == "tilleuls")))
    assert requester.get("/demandes").status_code == 200


def test_the_console_opens_a_sas_request_with_its_regulator_and_shows_it(as_user: Any, world: dict[str, Any]) -> None:
    operator = as_user(world["operator"])
    operator.get("/console")
    form = {
        "triage": "snp",
        "source": "sas",
        "motive": "ent",
        "patient.first_name": "Lucie",
        "patient.last_name": "Martin",
        "patient.phone": "0612345678",
        "treating_physician.status": "none",
        "confirmed": "1",
    }
    missing = operator.post("/console", form)
    assert missing.status_code == 422 and "Le médecin régulateur du SAS" in missing.get_data(as_text=True)
    opened = operator.post("/console", form | {"sas_regulator.name": "Dr Hélène Régulatrice", "sas_regulator.rpps": "10000009992"})
    assert opened.status_code == 302, opened.get_data(as_text=True)
    page = operator.get(opened.headers["Location"]).get_data(as_text=True)
    assert "Dr Hélène Régulatrice (RPPS 10000009992)" in page


def test_a_requester_cancels_their_open_request_on_the_page(as_user: Any, world: dict[str, Any], make: Any) -> None:
    nurse = as_user(world["nurse"])
    nurse.get("/demandes/nouvelle")
    assert nurse.post("/demandes/nouvelle", FORM | {"consent": "1"}).status_code == 302
    request_id = db.session.scalar(select(Request.id))
    listed = nurse.get("/demandes").get_data(as_text=True)
    action = f'action="/demandes/{request_id}/annuler"'
    assert action in listed and "Annuler la demande" in listed and 'name="csrf_token"' in listed

    assert nurse.post(f"/demandes/{request_id}/annuler", {"reason": "Parti aux urgences"}, csrf=False).status_code == 403
    missing = nurse.post(f"/demandes/{request_id}/annuler", {"reason": "  "})
    assert missing.status_code == 422 and "err-reason" in missing.get_data(as_text=True)
    other = as_user(world["other"])
    other.get("/demandes")
    assert other.post(f"/demandes/{request_id}/annuler", {"reason": "Pas la mienne"}).status_code == 404
    db.session.expire_all()
    still = db.session.get(Request, request_id)
    assert still is not None and still.state in ("exclusive", "community")  # no CSRF token, no reason, not hers: open

    done = nurse.post(f"/demandes/{request_id}/annuler", {"reason": "Parti aux urgences"})
    assert done.status_code == 302 and "/demandes" in done.headers["Location"]
    page = nurse.get(done.headers["Location"]).get_data(as_text=True)
    assert "Demande annulée." in page and "Annulée" in page
    assert action not in page  # nothing to cancel once it is closed
    db.session.expire_all()
    request = db.session.get(Request, request_id)
    assert request is not None and request.state == "cancelled" and request.cancel_reason == "Parti aux urgences"
    assert loose_spaces(page) == []


def test_no_cancel_form_once_a_physician_accepted(as_user: Any, world: dict[str, Any], make: Any) -> None:
    nurse = as_user(world["nurse"])
    nurse.get("/demandes/nouvelle")
    assert nurse.post("/demandes/nouvelle", FORM | {"consent": "1", "modality": "in_person"}).status_code == 302
    request_id = db.session.scalar(select(Request.id))
    assert make.accept(world["physician"], request_id, minutes=30).status_code == 200
    listed = nurse.get("/demandes").get_data(as_text=True)
    assert f"Demande n° {request_id}" in listed and f'action="/demandes/{request_id}/annuler"' not in listed
    late = nurse.post(f"/demandes/{request_id}/annuler", {"reason": "Parti aux urgences"})
    assert late.status_code == 302
    assert "La demande n&#39;est plus ouverte." in nurse.get(late.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Request, request_id).state == "accepted"
