"""The coordinator's "Droits des patients" pages and the console's identity correction: the API's use cases, in French."""

from __future__ import annotations

import html
import io
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from dispatch.audit.models import AccessRecord
from dispatch.db import db
from dispatch.events import Event
from dispatch.requests.models import Request
from tests.privacy.conftest import SYNTHESIS, cancelled, seen_with_synthesis

LUCIE = {"last_name": "MARTIN", "first_name": "lucie", "birth_date": "1988-04-02", "reference": "RGPD-2026-014"}


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community("CPTS Champigny")
    return {
        "community": community,
        "operator": make.member(community, "operator"),
        "coordinator": make.member(community, "coordinator"),
        "physician": make.member(community, "physician"),
    }


def _trail(app: Any, what: str) -> list[tuple[int, str | None]]:
    with app.app_context():
        rows = db.session.execute(select(AccessRecord.request_id, AccessRecord.reference).where(AccessRecord.what == what))
        return sorted((request_id, reference) for request_id, reference in rows)


def _form(world: dict[str, Any], **changes: str) -> dict[str, str]:
    return {"community": str(world["community"].id), **LUCIE, **changes}


def test_the_coordinator_finds_the_patients_requests_and_downloads_the_pdf(app: Any, make: Any, world: Any, as_user: Any) -> None:
    seen = seen_with_synthesis(make, world)
    cancelled(make, world, patient={"first_name": "Paul", "last_name": "Durand", "birth_date": "1950-01-01"})
    staff = as_user(world["coordinator"])
    page = staff.get(f"/pilotage/droits?community={world['community'].id}")
    assert page.status_code == 200 and "Droits des patients" in page.get_data(as_text=True)
    assert "Référence de la demande" in page.get_data(as_text=True)
    found = staff.post("/pilotage/droits", _form(world))
    page = found.get_data(as_text=True)
    assert found.status_code == 200, page
    assert "1 demande de lucie MARTIN" in page and f'<td data-label="N°">{seen}</td>' in page
    assert "ORL" in page and "Patient vu" in page  # motive, state, outcome: what the access answer holds
    assert _trail(app, "subject_access") == [(seen, "RGPD-2026-014")]
    document = staff.post("/pilotage/droits/document", _form(world, reference="RGPD-2026-015"))
    assert document.status_code == 200 and document.headers["Content-Type"] == "application/pdf"
    assert document.headers["Content-Disposition"].startswith("attachment;")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(document.data)).pages)
    assert "RGPD-2026-015" in text and "amoxicilline" in text and SYNTHESIS[:10] in text
    assert (seen, "RGPD-2026-015") in _trail(app, "subject_access")


def test_the_search_says_its_field_errors_and_when_nothing_is_found(world: Any, as_user: Any) -> None:
    staff = as_user(world["coordinator"])
    staff.get("/pilotage/droits")
    missing = staff.post("/pilotage/droits", _form(world, reference="", birth_date="02/04/1988"))
    page = missing.get_data(as_text=True)
    assert missing.status_code == 422 and 'id="err-reference"' in page and 'id="err-birth_date"' in page
    none = staff.post("/pilotage/droits", _form(world))
    assert none.status_code == 200 and "Aucune demande de lucie MARTIN, né·e le 02/04/1988" in none.get_data(as_text=True)


def test_erasure_asks_to_confirm_naming_how_many_then_erases(app: Any, make: Any, world: Any, as_user: Any) -> None:
    first, second = cancelled(make, world), cancelled(make, world)
    staff = as_user(world["coordinator"])
    staff.get("/pilotage/droits")
    confirm = staff.post("/pilotage/droits/effacement", _form(world))
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "de 2 demandes" in page and 'id="confirm-erase"' in page
    with app.app_context():
        assert db.session.get(Request, first).erased_at is None  # nothing erased before the confirmation
    done = staff.post("/pilotage/droits/effacement", _form(world, confirm="oui"))
    assert done.status_code == 302 and done.headers["Location"].startswith("/pilotage/droits")
    after = staff.get(done.headers["Location"]).get_data(as_text=True)
    assert "Identité de lucie MARTIN effacée de 2 demandes (référence RGPD-2026-014)" in after
    assert _trail(app, "subject_erasure") == [(first, "RGPD-2026-014"), (second, "RGPD-2026-014")]
    with app.app_context():
        assert all(db.session.get(Request, i).erased_at is not None for i in (first, second))


def test_erasure_is_refused_in_french_while_a_request_is_open(app: Any, make: Any, world: Any, as_user: Any) -> None:
    closed = cancelled(make, world)
    make.open(world["operator"], world["community"])
    staff = as_user(world["coordinator"])
    staff.get("/pilotage/droits")
    confirm = staff.post("/pilotage/droits/effacement", _form(world))
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 409 and "encore en cours" in page and 'id="confirm-erase"' not in page
    # Posted anyway (an open request since the confirmation page): the use case refuses, the page says so.
    forced = staff.post("/pilotage/droits/effacement", _form(world, confirm="oui"))
    assert forced.status_code == 409 and "l'effacement attend qu'elle soit close" in html.unescape(forced.get_data(as_text=True))
    with app.app_context():
        assert db.session.get(Request, closed).erased_at is None
    assert _trail(app, "subject_erasure") == []


@pytest.mark.parametrize("path", ["/pilotage/droits", "/pilotage/droits/document", "/pilotage/droits/effacement"])
def test_other_roles_get_403_and_another_community_404(make: Any, world: Any, as_user: Any, path: str) -> None:
    for who in (world["operator"], world["physician"], make.admin()):
        client = as_user(who)
        if path == "/pilotage/droits":
            assert client.get(path).status_code == 403
        assert client.post(path, _form(world)).status_code == 403
    other = make.community("CPTS Voisine")
    staff = as_user(world["coordinator"])
    assert staff.get(f"/pilotage/droits?community={other.id}").status_code == 404
    assert staff.post(path, {**_form(world), "community": str(other.id)}).status_code == 404


def test_the_nav_shows_the_rights_page_to_coordinators_only(world: Any, as_user: Any) -> None:
    assert "Droits des patients" in as_user(world["coordinator"]).get("/pilotage").get_data(as_text=True)
    assert "Droits des patients" not in as_user(world["operator"]).get("/console").get_data(as_text=True)


def test_the_operator_corrects_the_identity_from_the_request_page(app: Any, make: Any, world: Any, as_user: Any) -> None:
    request_id = cancelled(make, world)
    desk = as_user(world["operator"])
    page = desk.get(f"/console/demandes/{request_id}").get_data(as_text=True)
    assert "Corriger l'identité" in page and 'value="1988-04-02"' in page and 'value="06 12 34 56 78"' in page
    path = f"/console/demandes/{request_id}/patient"
    body = {"last_name": "Martin-Leroy", "first_name": "Lucie", "birth_date": "1988-04-02", "sex": "F", "phone": "06 11 22 33 44"}
    done = desk.post(path, body | {"reference": "RGPD-16"})
    assert done.status_code == 302, done.get_data(as_text=True)
    shown = desk.get(done.headers["Location"]).get_data(as_text=True)
    assert "Identité du patient de la demande" in shown and "Martin-Leroy" in shown and "06 11 22 33 44" in shown
    assert "Identité du patient corrigée" in shown and "Corrigés\u00a0: nom, téléphone." in shown and "RGPD-16" in shown
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.request_id == request_id, Event.type == "patient_rectified"))
    assert event is not None and event.data == {"fields": ["last_name", "phone"], "reference": "RGPD-16"}
    assert _trail(app, "rectification") == [(request_id, "RGPD-16")]


def test_the_correction_shows_field_errors_next_to_their_fields(app: Any, make: Any, world: Any, as_user: Any) -> None:
    request_id = cancelled(make, world)
    desk = as_user(world["operator"])
    desk.get(f"/console/demandes/{request_id}")
    path = f"/console/demandes/{request_id}/patient"
    bad = desk.post(path, {"last_name": "Martin", "birth_date": "1800-01-01", "sex": "X"})
    page = bad.get_data(as_text=True)
    assert (
        bad.status_code == 422
        and 'id="err-birth_date"' in page
        and 'id="err-sex"' in page
        and '<details class="rectify" id="rectify" open>' in page
    )
    phone = desk.post(path, {"last_name": "Martin", "phone": "12"})
    assert phone.status_code == 422 and 'id="err-phone"' in phone.get_data(as_text=True)
    phone = desk.post(path, {"last_name": "Martin", "phone": "06 11 22"})
    assert phone.status_code == 422 and "Numéro de téléphone invalide." in phone.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Event).where(Event.type == "patient_rectified")) is None


def test_the_correction_is_the_operators_of_the_community(make: Any, world: Any, as_user: Any) -> None:
    request_id = cancelled(make, world)
    path = f"/console/demandes/{request_id}/patient"
    staff = as_user(world["coordinator"])
    page = staff.get(f"/console/demandes/{request_id}").get_data(as_text=True)
    assert "Corriger l'identité" not in page
    assert staff.post(path, {"last_name": "X"}).status_code == 403
    other = make.community("CPTS Voisine")
    stranger = as_user(make.member(other, "operator"))
    stranger.get("/console")
    assert stranger.post(path, {"last_name": "X"}).status_code == 404


def test_an_erased_request_offers_no_correction(app: Any, make: Any, world: Any, as_user: Any) -> None:
    request_id = cancelled(make, world)
    staff = as_user(world["coordinator"])
    staff.get("/pilotage/droits")
    assert staff.post("/pilotage/droits/effacement", _form(world, confirm="oui")).status_code == 302
    desk = as_user(world["operator"])
    page = desk.get(f"/console/demandes/{request_id}").get_data(as_text=True)
    assert "Corriger l'identité" not in page and "Identité du patient effacée" in page
    refused = desk.post(f"/console/demandes/{request_id}/patient", {"last_name": "X"})
    assert refused.status_code == 302
    assert "elle ne peut plus être corrigée" in html.unescape(desk.get(refused.headers["Location"]).get_data(as_text=True))
