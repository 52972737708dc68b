"""GET /requests/{id}/synthesis.pdf: the report, only for those who may see the patient."""

from __future__ import annotations

from typing import Any

import pytest

SYNTHESIS = "Entorse de la cheville gauche, strapping, antalgiques ; radio si pas mieux à J5."


@pytest.fixture
def seen(make: Any, clock: Any) -> dict[str, Any]:
    """A request of the treating GP's patient, taken and seen by a community member."""
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    taker, other = make.member(community, "physician"), make.member(community, "physician")
    opened = make.open(operator, community, treating=gp, motive="trauma")
    clock.advance(hours=1)
    make.tick()
    assert make.accept(taker, opened["id"]).status_code == 200
    response = make.call("POST", f"/requests/{opened['id']}/outcome", taker, json={"outcome": "seen", "synthesis": SYNTHESIS})
    assert response.status_code == 200, response.json
    return {"community": community, "operator": operator, "gp": gp, "taker": taker, "other": other, "id": opened["id"]}


def pdf_of(make: Any, request_id: int, who: Any) -> Any:
    return make.call("GET", f"/requests/{request_id}/synthesis.pdf", who)


@pytest.mark.parametrize("who", ["operator", "gp", "taker"])
def test_those_with_the_full_view_get_the_report(make: Any, seen: dict[str, Any], ports: Any, who: str) -> None:
    user = seen[who]
    response = pdf_of(make, seen["id"], user)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == f'inline; filename="compte-rendu-{seen["id"]}.pdf"'
    assert response.data.startswith(b"%PDF-")
    make.deliver()
    (mail,) = ports["mail"].sent
    mailed = {p.get_filename(): p.get_content() for p in mail.iter_attachments()}
    assert mailed[f"compte-rendu-{seen['id']}.pdf"] == response.data  # the very report the GP received


def test_a_physician_it_was_offered_to_and_other_communities_get_404(make: Any, seen: dict[str, Any]) -> None:
    elsewhere = make.community()
    strangers = [
        seen["other"],
        make.member(seen["community"], "coordinator"),  # identity is for three people only (issue 14, point 13)
        make.admin(),
        make.member(elsewhere, "operator"),
        make.member(elsewhere, "coordinator"),
        make.member(elsewhere, "physician"),
    ]
    for stranger in strangers:
        response = pdf_of(make, seen["id"], stranger)
        assert response.status_code == 404, stranger
        assert response.mimetype == "application/problem+json"
        assert response.json["code"] == "not_found" and "Lucie" not in response.get_data(as_text=True)
    assert pdf_of(make, seen["id"], None).status_code == 401
    assert pdf_of(make, seen["id"] + 1000, seen["operator"]).status_code == 404


def test_no_synthesis_no_report(make: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    taker = make.member(community, "physician")
    opened = make.open(operator, community)
    assert pdf_of(make, opened["id"], operator).status_code == 404  # open
    assert make.accept(taker, opened["id"]).status_code == 200
    assert pdf_of(make, opened["id"], taker).status_code == 404  # accepted, not yet seen
    response = make.call("POST", f"/requests/{opened['id']}/outcome", taker, json={"outcome": "no_show"})
    assert response.status_code == 200, response.json
    response = pdf_of(make, opened["id"], operator)
    assert response.status_code == 404 and response.json["detail"].startswith("Aucune synthèse")


def test_report_is_documented_as_a_pdf(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/requests/{request_id}/synthesis.pdf"]["get"]
    assert operation["responses"]["200"]["content"] == {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    assert "404" in operation["responses"]
