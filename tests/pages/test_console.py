"""The operator console: triage, opening through the shared service, the live list, a request's page, cancel."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from dispatch.calls.models import Call
from dispatch.db import db
from dispatch.requests.models import Request

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
    assert field_error(html, "triage") == "Appliquez le protocole\u00a0: choisissez la nature de l&#39;appel."
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


def test_another_communitys_operator_cannot_call_back_relaunch_cancel_nor_search_its_patients(
    world: dict[str, Any], as_user: Any, make: Any, clock: Any
) -> None:
    opened = expired(world, make, clock)
    stranger = as_user(make.member(make.community(), "operator"))
    stranger.get("/console")  # a session and its form token
    base = f"/console/demandes/{opened['id']}"
    for path, form in (
        (f"{base}/rappel", {"result": "unreachable"}),
        (f"{base}/relancer", {}),
        (f"{base}/annuler", {"reason": "x"}),
    ):
        for accept in ("text/html", "application/json"):
            response = stranger.post(path, form, headers={"Accept": accept})
            assert response.status_code == 404, (path, accept, response.status_code)
    assert stranger.get(f"{base}/etat").status_code == 404
    found = stranger.http.post(
        f"/console/patients?community={world['community'].id}",
        json={"phone": "+33612345678"},
        headers={"Accept": "application/json", "X-CSRF-Token": stranger.csrf},
    )
    assert found.status_code == 404 and "requests" not in (found.json or {})
    request = db.session.get(Request, opened["id"])
    assert request.callback_result is None and request.state == "expired"
    assert db.session.scalar(select(Request).where(Request.relaunch_of_id == opened["id"])) is None


def expired(world: dict[str, Any], make: Any, clock: Any) -> dict[str, Any]:
    """Open a request offered to the treating GP first, and let it expire."""
    opened = make.open(world["operator"], world["community"], treating=world["gp"])
    clock.advance(hours=2)
    make.tick()
    return opened


def test_the_call_back_result_is_recorded_and_the_banner_goes_for_everyone(
    world: dict[str, Any], as_user: Any, make: Any, clock: Any
) -> None:
    opened = expired(world, make, clock)
    first, second = as_user(world["operator"]), as_user(make.member(world["community"], "operator"))
    before = second.get("/console/etat").json["signature"]
    banner = [r for r in second.get("/console/live").json["requests"] if r["state"] == "expired" and not r["called_back"]]
    assert [r["id"] for r in banner] == [opened["id"]]
    page = first.get(f"/console/demandes/{opened['id']}").get_data(as_text=True)
    assert 'id="callback-form"' in page and "Réorienté vers le SAS" in page and 'id="relaunch-form"' in page
    response = first.post(
        f"/console/demandes/{opened['id']}/rappel",
        {"result": "reoriented_sas", "note": "Adressé au SAS 94"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {
        "message": f"Rappel de la demande n° {opened['id']} enregistré\u00a0: réorienté vers le SAS.",
        "location": None,
    }
    request = db.session.get(Request, opened["id"])
    assert (request.callback_result, request.callback_note, request.callback_by_id) == (
        "reoriented_sas",
        "Adressé au SAS 94",
        world["operator"].id,
    )
    assert second.get("/console/etat").json["signature"] != before  # every console fetches the list again
    row = second.get("/console/live").json["requests"][0]
    assert row["called_back"] is True and row["callback_label"] == "réorienté vers le SAS"
    page = second.get(f"/console/demandes/{opened['id']}").get_data(as_text=True)
    assert 'id="callback-form"' not in page and "rappelez le patient" not in page
    assert "Réorienté vers le SAS" in page and "Adressé au SAS 94" in page and "Patient rappelé" in page
    # The API's service refuses a second result, and the page says so in French.
    again = first.post(
        f"/console/demandes/{opened['id']}/rappel", {"result": "unreachable"}, headers={"Accept": "application/json"}
    )
    assert again.status_code == 409 and again.json["code"] == "already_recorded"


def test_the_call_back_needs_a_result(world: dict[str, Any], as_user: Any, make: Any, clock: Any) -> None:
    opened = expired(world, make, clock)
    operator = as_user(world["operator"])
    operator.get(f"/console/demandes/{opened['id']}")
    response = operator.post(f"/console/demandes/{opened['id']}/rappel", {"note": "Rien"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "result") == "Choisissez le résultat du rappel." and "Rien" in html
    as_json = operator.post(
        f"/console/demandes/{opened['id']}/rappel", {"result": "forgot"}, headers={"Accept": "application/json"}
    )
    assert as_json.status_code == 422 and as_json.json["errors"]["result"] == ["Choisissez le résultat du rappel."]
    assert db.session.get(Request, opened["id"]).callback_result is None


def test_relaunched_as_a_result_opens_the_new_request(world: dict[str, Any], as_user: Any, make: Any, clock: Any) -> None:
    opened = expired(world, make, clock)
    operator = as_user(world["operator"])
    operator.get(f"/console/demandes/{opened['id']}")
    response = operator.post(
        f"/console/demandes/{opened['id']}/rappel", {"result": "relaunched", "note": "Souhaite un médecin aujourd'hui"}
    )
    assert response.status_code == 302
    new = db.session.scalar(select(Request).where(Request.relaunch_of_id == opened["id"]))
    assert response.headers["Location"] == f"/console/demandes/{new.id}"
    assert new.state == "exclusive" and new.treating_physician_id == world["gp"].id  # the treating GP first again
    first = db.session.get(Request, opened["id"])
    assert (first.callback_result, first.callback_note) == ("relaunched", "Souhaite un médecin aujourd'hui")
    page = operator.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Demande n° {opened['id']} relancée" in page and f"la demande n° {opened['id']}</a>" in page
    assert "Relance d&#39;une demande précédente" in page
    old = operator.get(f"/console/demandes/{opened['id']}").get_data(as_text=True)
    assert f"demande n° {new.id}</a>" in old and "Demande relancée" in old


def test_the_relaunch_button_opens_a_linked_request(world: dict[str, Any], as_user: Any, make: Any, clock: Any) -> None:
    opened = expired(world, make, clock)
    operator = as_user(world["operator"])
    operator.get(f"/console/demandes/{opened['id']}")
    response = operator.post(f"/console/demandes/{opened['id']}/relancer")
    new = db.session.scalar(select(Request).where(Request.relaunch_of_id == opened["id"]))
    assert response.status_code == 302 and response.headers["Location"] == f"/console/demandes/{new.id}"
    assert db.session.get(Request, opened["id"]).callback_result == "relaunched"  # as the API: the call-back is recorded
    still_open = operator.post(f"/console/demandes/{new.id}/relancer")
    assert "La demande est encore ouverte." in operator.get(still_open.headers["Location"]).get_data(as_text=True)


def test_a_relaunched_request_offers_no_second_relaunch_and_leads_to_the_first(
    world: dict[str, Any], as_user: Any, make: Any, clock: Any
) -> None:
    """Two consoles had the expired request open: the second press follows the relaunch the first one made."""
    opened = expired(world, make, clock)
    first, second = as_user(world["operator"]), as_user(make.member(world["community"], "operator"))
    assert 'id="relaunch-form"' in second.get(f"/console/demandes/{opened['id']}").get_data(as_text=True)
    made = first.post(f"/console/demandes/{opened['id']}/relancer")
    new = db.session.scalar(select(Request).where(Request.relaunch_of_id == opened["id"]))
    assert made.headers["Location"] == f"/console/demandes/{new.id}"
    late = second.post(f"/console/demandes/{opened['id']}/relancer")  # from the page loaded before the relaunch
    assert late.status_code == 302 and late.headers["Location"] == f"/console/demandes/{new.id}"
    assert "Cette demande a déjà été relancée" in second.get(late.headers["Location"]).get_data(as_text=True)
    page = second.get(f"/console/demandes/{opened['id']}").get_data(as_text=True)
    assert 'id="relaunch-form"' not in page and f"demande n° {new.id}</a>" in page
    assert db.session.scalars(select(Request.id).where(Request.relaunch_of_id == opened["id"])).all() == [new.id]


def test_a_coordinator_sees_the_request_but_does_not_call_back(world: dict[str, Any], as_user: Any, make: Any, clock: Any) -> None:
    opened = expired(world, make, clock)
    coordinator = as_user(make.member(world["community"], "coordinator"))
    page = coordinator.get(f"/console/demandes/{opened['id']}").get_data(as_text=True)
    assert 'id="callback-form"' not in page and 'id="relaunch-form"' not in page
    assert coordinator.post(f"/console/demandes/{opened['id']}/rappel", {"result": "advice_given"}).status_code == 403
    assert coordinator.post(f"/console/demandes/{opened['id']}/relancer").status_code == 403
    lookup = coordinator.http.post("/console/patients", json={"phone": "0612345678"}, headers={"X-CSRF-Token": coordinator.csrf})
    assert lookup.status_code == 403


def test_the_history_reads_as_french_sentences(world: dict[str, Any], as_user: Any, make: Any, clock: Any) -> None:
    opened = make.open(world["operator"], world["community"], treating=world["gp"])
    make.call("POST", f"/requests/{opened['id']}/refuse", world["gp"], json={"reason": "Cabinet complet"})
    assert make.accept(world["other"], opened["id"], minutes=60).status_code == 200
    make.call("POST", f"/requests/{opened['id']}/release", world["other"], json={"reason": "Urgence au cabinet"})
    clock.advance(hours=3)
    make.tick()
    page = as_user(world["operator"]).get(f"/console/demandes/{opened['id']}").get_data(as_text=True)
    history = page[page.index('id="history"') :]
    for sentence in (
        "Demande ouverte",
        "Proposée d&#39;abord au médecin traitant seul, jusqu&#39;à 16:00.",
        "Refusée par un médecin",
        "Motif\u00a0: Cabinet complet",
        "Le médecin traitant a refusé\u00a0: tous les médecins la reçoivent.",
        "Acceptée",
        "Le médecin s&#39;est désisté",
        "Motif\u00a0: Urgence au cabinet",
        "Expirée sans médecin",
    ):
        assert sentence in history, sentence
    codes = re.findall(r"<strong>([a-z_]+)</strong>", history)
    assert codes == []  # no raw event code as a title


def test_the_console_digest_says_nothing_of_the_patient_and_records_nothing(world: dict[str, Any], as_user: Any, make: Any) -> None:
    from dispatch.audit.models import AccessRecord

    make.open(world["operator"], world["community"])
    operator = as_user(world["operator"])
    reads = int(db.session.scalar(select(func.count()).select_from(AccessRecord)) or 0)
    state = operator.get("/console/etat")
    assert state.headers["Cache-Control"] == "no-store" and set(state.json) == {"now", "signature", "count"}
    assert "Lucie" not in state.get_data(as_text=True) and "+336" not in state.get_data(as_text=True)
    assert int(db.session.scalar(select(func.count()).select_from(AccessRecord)) or 0) == reads
    assert state.json["signature"] == operator.get("/console/live").json["signature"]


def test_the_console_shows_a_returning_patient(world: dict[str, Any], as_user: Any, make: Any, clock: Any) -> None:
    opened = expired(world, make, clock)
    operator = as_user(world["operator"])
    page = operator.get("/console").get_data(as_text=True)
    assert 'id="returning"' in page
    lookup = operator.http.post("/console/patients", json={"phone": "06 12 34 56 78"}, headers={"X-CSRF-Token": operator.csrf})
    assert lookup.status_code == 200
    [item] = lookup.json["requests"]
    assert item["id"] == opened["id"] and item["state_label"] == "Expirée" and item["motive"] == "ORL"
    assert item["matched"] == "même téléphone" and item["opened"] == "23/11/2026 à 15:00"
    by_name = {"first_name": "LUCIE", "last_name": "martin ", "birth_date": "1988-04-02", "phone": "06 1"}
    named = operator.http.post("/console/patients", json=by_name, headers={"X-CSRF-Token": operator.csrf}).json["requests"]
    assert [r["matched"] for r in named] == ["mêmes nom, prénom et date de naissance"]
    partial = {"first_name": "Lucie", "last_name": "Martin", "birth_date": "1988-04"}  # still being typed: nothing yet
    assert operator.http.post("/console/patients", json=partial, headers={"X-CSRF-Token": operator.csrf}).json == {"requests": []}
    assert operator.http.post("/console/patients", json={"phone": "0612345678"}).status_code == 403  # no CSRF token


@pytest.mark.parametrize(
    ("changes", "risks"),
    [
        ({"treating_physician.status": "unknown"}, ["médecin traitant est «\u00a0inconnu\u00a0»"]),
        ({"patient.phone": ""}, ["aucun téléphone"]),
        (
            {"treating_physician.status": "unknown", "patient.phone": ""},
            ["médecin traitant est «\u00a0inconnu\u00a0»", "aucun téléphone"],
        ),
    ],
)
def test_a_request_without_its_treating_gp_or_phone_opens_only_once_confirmed(
    world: dict[str, Any], as_user: Any, changes: dict[str, str], risks: list[str]
) -> None:
    """Opened like this, it skips the treating GP's hour or the patient never gets the SMS: the operator says so."""
    operator = as_user(world["operator"])
    form = {**FORM, **changes}
    first = operator.post("/console", form)
    assert first.status_code == 200 and count() == 0
    html = first.get_data(as_text=True)
    assert 'id="open-confirm"' in html and 'id="open-confirmed"' in html and 'id="open-submit"' not in html
    for risk in risks:
        assert risk in html
    assert 'value="Martin"' in html  # the form comes back as it was typed
    confirmed = operator.post("/console", {**form, "confirmed": "1"})
    assert confirmed.status_code == 302 and count() == 1


def test_a_patient_left_blank_marks_both_names_and_no_error_is_dropped(world: dict[str, Any], as_user: Any) -> None:
    operator = as_user(world["operator"])
    form = {key: value for key, value in FORM.items() if not key.startswith("patient.")}
    response = operator.post("/console", form)
    assert response.status_code == 422 and count() == 0
    html = response.get_data(as_text=True)
    assert field_error(html, "patient.first_name") == "Indiquez le prénom du patient."
    assert field_error(html, "patient.last_name") == "Indiquez le nom du patient."
    only_surname = operator.post("/console", {**FORM, "patient.first_name": ""}).get_data(as_text=True)
    assert field_error(only_surname, "patient.first_name")
    assert 'aria-invalid="true"' in only_surname


def test_an_opening_met_by_an_expired_session_comes_back_to_the_console_with_its_community(
    world: dict[str, Any], as_user: Any, clock: Any
) -> None:
    operator = as_user(world["operator"])
    community = world["community"].id
    operator.get(f"/console?community={community}")
    clock.advance(hours=13)
    response = operator.post(f"/console?community={community}", FORM)
    assert response.status_code == 302 and count() == 0
    assert response.headers["Location"] == f"/connexion?next=/console?community%3D{community}%26reprise%3D1"


def test_a_call_back_still_due_from_an_earlier_day_stays_in_the_list_and_the_banner(
    world: dict[str, Any], as_user: Any, make: Any, clock: Any
) -> None:
    """Issue 22, item 5: an expiry of yesterday evening whose patient nobody called back is not lost at midnight."""
    forgotten = expired(world, make, clock)
    answered = expired(world, make, clock)
    make.call("POST", f"/requests/{answered['id']}/callback", world["operator"], json={"result": "advice_given"})
    clock.advance(days=2)
    make.tokens.clear()
    operator = as_user(world["operator"])

    def due() -> list[int]:
        rows = operator.get("/console/live").json["requests"]
        return [r["id"] for r in rows if r["state"] == "expired" and not r["called_back"]]

    assert due() == [forgotten["id"]]  # the one called back has left with its day
    clock.advance(days=6)  # a week on, the list is today's again (the request's page and the report keep it)
    make.tokens.clear()
    operator = as_user(world["operator"])
    assert due() == []
