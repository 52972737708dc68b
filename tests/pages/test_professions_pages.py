"""The phone pages speak to each profession in its words."""

from __future__ import annotations

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
