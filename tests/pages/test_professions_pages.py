"""The phone pages speak to each profession in its words."""

from __future__ import annotations

import html
from typing import Any


def test_the_phone_pages_title_a_nurse_s_request_in_nursing_words(make: Any, as_user: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    nurse = make.member(community, "physician", profession="60", kind="titulaire", name="Claire Leroy")
    usual = make.member(community, "physician", profession="60", kind="titulaire")
    body = make.request_body(community, profession="60", acts=["perfusion"])
    del body["treating_physician"], body["motive"]
    body["usual_professional"] = {"status": "declared", "rpps": usual.rpps}
    opened = make.call("POST", "/requests", operator, json=body).json
    page = as_user(usual)
    listed = page.get("/m/").get_data(as_text=True)
    assert "Soins infirmiers non programmés : Perfusion" in listed and "Pour vous (infirmier habituel)" in listed
    shown = page.get(f"/m/requests/{opened['id']}").get_data(as_text=True)
    assert "<h1>Soins infirmiers non programmés : Perfusion</h1>" in shown
    assert make.call("GET", f"/requests/{opened['id']}", nurse).status_code in (403, 404)  # not offered yet


def test_the_rules_page_publishes_each_profession_s_rules_in_french(make: Any, as_user: Any) -> None:
    community = make.community()
    nurse = make.member(community, "physician", profession="60", kind="titulaire")
    page = as_user(nurse).get("/regles")
    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    assert "Infirmier" in text and "Masseur-kinésithérapeute" in text
    assert "D'abord l'infirmier habituel, seul, pendant 6\u00a0h" in text
    assert "Ensuite les infirmiers à moins de 10\u00a0km du patient" in text
    assert "Au-delà de 10\u00a0km, la demande ne vous est pas proposée." in text
    assert "D'abord le médecin traitant, seul, pendant 1\u00a0h" in text and "Ensuite tous les médecins de la communauté" in text
    assert "Sans réponse au bout de 12\u00a0h" in text


def test_the_members_page_names_a_nurse_s_profession_and_the_treating_gp_search_leaves_nurses_out(make: Any, as_user: Any) -> None:
    community = make.community()
    coordinator, operator = make.member(community, "coordinator"), make.member(community, "operator")
    make.member(community, "physician", profession="60", kind="titulaire", name="Claire Infirmière")
    make.member(community, "physician", name="Dr Claire Médecin")
    listed = html.unescape(as_user(coordinator).get("/pilotage/membres").get_data(as_text=True))
    assert "Infirmier" in listed
    found = as_user(operator).get("/console/medecins?q=Claire").json
    assert [row["name"] for row in found] == ["Dr Claire Médecin"]


def test_the_console_opens_a_nurse_s_request_with_its_acts(make: Any, as_user: Any) -> None:
    from sqlalchemy import select

    from dispatch.db import db
    from dispatch.requests.models import Request

    community = make.community()
    operator = make.member(community, "operator")
    make.member(community, "physician", profession="60", kind="titulaire")
    page = as_user(operator)
    form = page.get("/console").get_data(as_text=True)
    assert 'name="profession"' in form and 'value="prise_de_sang"' in form
    data = {
        "triage": "snp",
        "profession": "60",
        "acts": "pansement",
        "source": "cot",
        "patient.first_name": "Lucie",
        "patient.last_name": "Martin",
        "patient.phone": "06 12 34 56 78",
        "treating_physician.status": "none",
        "confirmed": "1",
    }
    answer = page.post("/console", data)
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:2000]
    request = db.session.scalars(select(Request).order_by(Request.id.desc())).first()
    assert request is not None and request.profession == "60" and request.acts == ["pansement"] and request.motive == "other"
