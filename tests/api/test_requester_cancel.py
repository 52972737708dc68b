"""The requester who opened a request cancels it while it is open, through the operator's use case: the same state
rules, the same withdrawals from the physicians' phones, the same trail; anyone else's request stays hidden."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dispatch.db import db
from dispatch.notify.ports import PushMessage
from dispatch.requests.models import Offer
from tests.api.test_requesters import ehpad_body

REASON = "Le patient est parti aux urgences"


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    physicians = [make.member(community, "physician", kind="cami") for _ in range(2)]
    return {
        "community": community,
        "operator": make.member(community, "operator"),
        "nurse": make.member(community, "requester", finess="750712184", profession=None, name="Inès Ehpad"),
        "other": make.member(community, "requester", rpps="10000009992", profession="21", name="Paul Pharmacie"),
        "physicians": physicians,
        "devices": {physician.id: make.device(physician) for physician in physicians},
    }


def opened_by(make: Any, requester: Any, community: Any) -> dict[str, Any]:
    response = make.call("POST", "/requests", requester, json=ehpad_body(community, modality="in_person"))
    assert response.status_code == 201, response.json
    return dict(response.json)


def offers(request_id: int) -> dict[int, str]:
    return dict(db.session.execute(select(Offer.physician_id, Offer.status).where(Offer.request_id == request_id)).all())


def withdrawals(ports: Any, request_id: int) -> list[PushMessage]:
    return [
        m
        for m in ports["push"].sent
        if isinstance(m, PushMessage) and m.data["request_id"] == str(request_id) and m.data["type"] == "offer_withdrawn"
    ]


def test_the_owner_cancels_and_every_offered_physician_gets_the_withdrawal(make: Any, world: dict[str, Any], ports: Any) -> None:
    nurse, physicians = world["nurse"], world["physicians"]
    opened = opened_by(make, nurse, world["community"])
    assert opened["state"] == "community"  # no treating GP declared: offered to the whole community at once
    make.deliver()
    assert offers(opened["id"]) == {p.id: "notified" for p in physicians}
    ports["push"].sent.clear()

    response = make.call("POST", f"/requests/{opened['id']}/cancel", nurse, json={"reason": REASON})
    assert response.status_code == 200, response.json
    assert response.json["state"] == "cancelled"
    assert make.call("GET", f"/requests/{opened['id']}", nurse).json["state"] == "cancelled"
    assert offers(opened["id"]) == {p.id: "withdrawn" for p in physicians}
    assert make.call("GET", "/me/offers", physicians[0]).json == []

    make.deliver()
    withdrawn = withdrawals(ports, opened["id"])
    assert sorted(m.tokens for m in withdrawn) == sorted((world["devices"][p.id].token,) for p in physicians)
    assert {m.data["reason"] for m in withdrawn} == {"cancelled"}
    assert {m.collapse_key for m in withdrawn} == {f"request-{opened['id']}"}  # replaces the offer on the phone

    events = make.call("GET", f"/requests/{opened['id']}/events", world["operator"]).json
    cancelled = [e for e in events if e["type"] == "cancelled"]
    assert [(e["data"]["reason"], e["actor"]["id"], e["actor"]["role"]) for e in cancelled] == [(REASON, nurse.id, "requester")]


def test_an_operators_cancel_withdraws_the_same_offers(make: Any, world: dict[str, Any], ports: Any) -> None:
    mine = opened_by(make, world["nurse"], world["community"])
    theirs = opened_by(make, world["nurse"], world["community"])
    make.deliver()
    ports["push"].sent.clear()
    assert make.call("POST", f"/requests/{mine['id']}/cancel", world["nurse"], json={"reason": REASON}).status_code == 200
    assert make.call("POST", f"/requests/{theirs['id']}/cancel", world["operator"], json={"reason": REASON}).status_code == 200
    make.deliver()

    def seen(request_id: int) -> list[tuple[Any, ...]]:
        return sorted((m.tokens, m.data["reason"], m.data["type"]) for m in withdrawals(ports, request_id))

    assert seen(mine["id"]) == seen(theirs["id"]) and len(seen(mine["id"])) == len(world["physicians"])
    assert offers(mine["id"]) == offers(theirs["id"])


def test_another_requester_of_the_community_gets_404(make: Any, world: dict[str, Any]) -> None:
    opened = opened_by(make, world["nurse"], world["community"])
    response = make.call("POST", f"/requests/{opened['id']}/cancel", world["other"], json={"reason": REASON})
    assert response.status_code == 404 and response.json["code"] == "not_found"
    assert make.call("GET", f"/requests/{opened['id']}", world["nurse"]).json["state"] == "community"


def test_the_owner_cannot_cancel_an_accepted_request(make: Any, world: dict[str, Any]) -> None:
    opened = opened_by(make, world["nurse"], world["community"])
    assert make.accept(world["physicians"][0], opened["id"], minutes=30).status_code == 200
    response = make.call("POST", f"/requests/{opened['id']}/cancel", world["nurse"], json={"reason": REASON})
    assert response.status_code == 409 and response.json["code"] == "closed"
    assert make.call("GET", f"/requests/{opened['id']}", world["nurse"]).json["state"] == "accepted"


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": None}])
def test_the_owner_must_give_a_reason(make: Any, world: dict[str, Any], body: dict[str, Any]) -> None:
    opened = opened_by(make, world["nurse"], world["community"])
    response = make.call("POST", f"/requests/{opened['id']}/cancel", world["nurse"], json=body)
    assert response.status_code == 422 and "reason" in response.json["errors"]
    assert make.call("GET", f"/requests/{opened['id']}", world["nurse"]).json["state"] == "community"


def test_a_physician_still_cannot_cancel(make: Any, world: dict[str, Any]) -> None:
    opened = opened_by(make, world["nurse"], world["community"])
    offered = make.call("POST", f"/requests/{opened['id']}/cancel", world["physicians"][0], json={"reason": REASON})
    assert offered.status_code == 403 and offered.json["code"] == "forbidden"
    stranger = make.member(make.community(), "physician")
    assert make.call("POST", f"/requests/{opened['id']}/cancel", stranger, json={"reason": REASON}).status_code == 404
    assert make.call("GET", f"/requests/{opened['id']}", world["nurse"]).json["state"] == "community"
