"""The digest a request's page in the console polls: it moves with the request, says nothing of the patient."""

from __future__ import annotations

from typing import Any

from tests.pages.test_console_browser import expire, shift


def test_the_digest_moves_with_the_request_and_names_nobody(make: Any, clock: Any, as_user: Any) -> None:
    w = shift(make)
    opened = make.open(w["nadia"], w["community"], treating=w["gp"])
    yves = as_user(w["yves"])
    url = f"/console/demandes/{opened['id']}/etat"
    page = yves.get(f"/console/demandes/{opened['id']}").get_data(as_text=True)
    first = yves.get(url)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    assert f'data-signature="{first.json["signature"]}"' in page  # the page carries the digest it was drawn from
    assert yves.get(url).json["signature"] == first.json["signature"]  # reading changes nothing
    body = first.get_data(as_text=True)
    assert set(first.json) == {"now", "id", "state", "signature"}
    for identity in ("Martin", "Lucie", "612345678", "1988", "94500", "Champigny", "Otalgie"):
        assert identity not in body

    assert make.accept(w["gp"], opened["id"], minutes=45).status_code == 200
    accepted = yves.get(url).json
    assert accepted["state"] == "accepted" and accepted["signature"] != first.json["signature"]
    clock.advance(hours=1)
    assert make.call("POST", f"/requests/{opened['id']}/outcome", w["gp"], json={"outcome": "no_show"}).status_code == 200
    assert yves.get(url).json["signature"] != accepted["signature"]  # the outcome, the state staying "accepted"


def test_a_call_back_moves_the_digest(make: Any, clock: Any, as_user: Any) -> None:
    w = shift(make)
    expired = expire(make, clock, w)
    nadia = as_user(w["nadia"])
    url = f"/console/demandes/{expired['id']}/etat"
    before = nadia.get(url).json
    assert before["state"] == "expired"
    assert make.call("POST", f"/requests/{expired['id']}/callback", w["yves"], json={"result": "unreachable"}).status_code == 200
    after = nadia.get(url).json
    assert after["state"] == "expired" and after["signature"] != before["signature"]


def test_the_digest_is_for_the_requests_audience_only(make: Any, as_user: Any) -> None:
    w = shift(make)
    opened = make.open(w["nadia"], w["community"])
    elsewhere = make.community("CPTS Ailleurs")
    stranger = as_user(make.member(elsewhere, "operator", name="Opérateur Ailleurs"))
    assert stranger.get(f"/console/demandes/{opened['id']}/etat").status_code == 404
    assert as_user(w["nadia"]).get("/console/demandes/999999/etat").status_code == 404
    assert as_user(w["gp"]).get(f"/console/demandes/{opened['id']}/etat").status_code in (302, 403)
