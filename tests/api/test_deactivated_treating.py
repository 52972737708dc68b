"""A deactivated treating GP holds no request: those in their exclusive hour go to the whole community at once; the
pending offers of a deactivated physician leave their phones, the requests staying open to the others."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dispatch.db import db
from dispatch.notify.ports import PushMessage
from dispatch.requests.models import Offer


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    out = {
        "community": community,
        "coordinator": make.member(community, "coordinator"),
        "operator": make.member(community, "operator"),
        "gp": make.member(community, "physician", name="Dr Paul Durand"),
        "others": [make.member(community, "physician", kind="cami") for _ in range(3)],
    }
    out["devices"] = {physician.id: make.device(physician) for physician in [out["gp"], *out["others"]]}
    return out


def offers(request_id: int) -> dict[int, str]:
    rows = db.session.execute(select(Offer.physician_id, Offer.status).where(Offer.request_id == request_id))
    return dict(rows.all())


@pytest.mark.parametrize("how", [("POST", "/deactivate"), ("DELETE", "")])
def test_deactivating_the_treating_gp_opens_their_requests_to_the_community_at_once(
    make: Any, world: dict[str, Any], ports: Any, how: tuple[str, str]
) -> None:
    gp, others = world["gp"], world["others"]
    held = make.open(world["operator"], world["community"], treating=gp)
    taken = make.open(world["operator"], world["community"], treating=gp)
    assert held["state"] == taken["state"] == "exclusive"
    assert make.accept(gp, taken["id"], minutes=30).status_code == 200
    make.deliver()
    ports["push"].sent.clear()
    make.clock.advance(minutes=10)

    method, suffix = how
    response = make.call(method, f"/communities/{world['community'].id}/members/{gp.user.id}{suffix}", world["coordinator"])
    assert response.status_code in (200, 204), response.json

    request = make.call("GET", f"/requests/{held['id']}", world["operator"]).json
    assert request["state"] == "community"  # not in 50 minutes, when the hour would have ended
    assert request["expires_at"] == held["expires_at"]  # the window of the request is unchanged
    assert offers(held["id"]) == {gp.id: "withdrawn", **{p.id: "notified" for p in others}}
    listed = make.call("GET", "/me/offers", others[0]).json
    assert [o["id"] for o in listed] == [held["id"]]
    # The request the GP accepted stays theirs (the confirmation page warns the coordinator).
    assert make.call("GET", f"/requests/{taken['id']}", world["operator"]).json["state"] == "accepted"

    make.deliver()
    pushes = [m for m in ports["push"].sent if isinstance(m, PushMessage) and m.data["request_id"] == str(held["id"])]
    new_offers = [m for m in pushes if m.data["type"] == "offer"]
    withdrawn = [m for m in pushes if m.data["type"] == "offer_withdrawn"]
    assert len(new_offers) == 3 and {m.data["phase"] for m in new_offers} == {"community"}
    assert len(withdrawn) == 1 and withdrawn[0].data["reason"] == "unavailable"
    assert withdrawn[0].collapse_key == f"request-{held['id']}"  # replaces the GP's offer on their phone

    events = make.call("GET", f"/requests/{held['id']}/events", world["operator"]).json
    opened = next(e for e in events if e["type"] == "community_opened")
    assert opened["data"] == {"after": "treating_unavailable"} and opened["actor"] is None
    # The community takes it as usual.
    assert make.accept(others[1], held["id"], minutes=30).status_code == 200


def test_a_request_of_the_community_phase_or_past_its_expiry_is_left_alone(make: Any, world: dict[str, Any]) -> None:
    gp = world["gp"]
    refused = make.open(world["operator"], world["community"], treating=gp)
    make.call("POST", f"/requests/{refused['id']}/refuse", gp, json={})
    before = offers(refused["id"])
    response = make.call("POST", f"/communities/{world['community'].id}/members/{gp.user.id}/deactivate", world["coordinator"])
    assert response.status_code == 200
    assert offers(refused["id"]) == before
    types = [e["type"] for e in make.call("GET", f"/requests/{refused['id']}/events", world["operator"]).json]
    assert types.count("community_opened") == 1
    # Deactivating again changes nothing.
    again = make.call("POST", f"/communities/{world['community'].id}/members/{gp.user.id}/deactivate", world["coordinator"])
    assert again.status_code == 200 and offers(refused["id"]) == before


def test_deactivating_a_physician_withdraws_their_pending_offers_of_the_community_phase(
    make: Any, world: dict[str, Any], ports: Any
) -> None:
    gp, others, coordinator = world["gp"], world["others"], world["coordinator"]
    leaving, staying = others[0], others[1:]
    pending = make.open(world["operator"], world["community"])  # everyone's at once
    answered = make.open(world["operator"], world["community"])
    assert make.call("POST", f"/requests/{answered['id']}/refuse", leaving, json={}).status_code == 200
    taken = make.open(world["operator"], world["community"])
    assert make.accept(staying[0], taken["id"], minutes=30).status_code == 200
    assert pending["state"] == "community" and offers(pending["id"])[leaving.id] == "notified"
    make.deliver()
    ports["push"].sent.clear()
    answered_before, taken_before = offers(answered["id"]), offers(taken["id"])
    make.clock.advance(minutes=10)

    response = make.call("POST", f"/communities/{world['community'].id}/members/{leaving.user.id}/deactivate", coordinator)
    assert response.status_code == 200, response.json

    request = make.call("GET", f"/requests/{pending['id']}", world["operator"]).json
    assert request["state"] == "community" and request["expires_at"] == pending["expires_at"]  # the request does not move
    assert offers(pending["id"]) == {leaving.id: "withdrawn", gp.id: "notified", **{p.id: "notified" for p in staying}}
    assert offers(answered["id"]) == answered_before  # a refusal is an answer: nothing pending to withdraw
    assert offers(taken["id"]) == taken_before
    assert {o["id"] for o in make.call("GET", "/me/offers", staying[1]).json} == {pending["id"], answered["id"]}

    make.deliver()
    pushes = [m for m in ports["push"].sent if isinstance(m, PushMessage)]
    assert [(m.data["type"], m.data["request_id"], m.data["reason"]) for m in pushes] == [
        ("offer_withdrawn", str(pending["id"]), "unavailable")
    ]
    assert pushes[0].tokens == (world["devices"][leaving.id].token,)  # their phone, nobody else's
    assert pushes[0].collapse_key == f"request-{pending['id']}"  # replaces the offer on their phone
    assert "Lucie" not in str(pushes[0]) and "Martin" not in str(pushes[0])

    events = make.call("GET", f"/requests/{pending['id']}/events", world["operator"]).json
    withdrawn = [e for e in events if e["type"] == "offer_withdrawn"]
    assert [(e["data"], e["actor"]) for e in withdrawn] == [({"physician_id": leaving.id, "reason": "unavailable"}, None)]
    # Deactivating again withdraws nothing more; the others still take the request.
    again = make.call("POST", f"/communities/{world['community'].id}/members/{leaving.user.id}/deactivate", coordinator)
    assert again.status_code == 200
    types = [e["type"] for e in make.call("GET", f"/requests/{pending['id']}/events", world["operator"]).json]
    assert types.count("offer_withdrawn") == 1
    assert make.accept(staying[1], pending["id"], minutes=30).status_code == 200


def test_the_treating_gps_offer_of_their_past_hour_is_withdrawn_too(make: Any, world: dict[str, Any], ports: Any) -> None:
    gp = world["gp"]
    held = make.open(world["operator"], world["community"], treating=gp)
    make.clock.advance(minutes=61)
    make.tick()  # the hour ended unanswered: everyone has it, the GP's offer is still on their phone
    assert make.call("GET", f"/requests/{held['id']}", world["operator"]).json["state"] == "community"
    assert offers(held["id"])[gp.id] == "notified"
    make.deliver()
    ports["push"].sent.clear()

    response = make.call("POST", f"/communities/{world['community'].id}/members/{gp.user.id}/deactivate", world["coordinator"])
    assert response.status_code == 200
    assert offers(held["id"]) == {gp.id: "withdrawn", **{p.id: "notified" for p in world["others"]}}
    make.deliver()
    withdrawn = [m for m in ports["push"].sent if isinstance(m, PushMessage) and m.data["type"] == "offer_withdrawn"]
    assert [m.tokens for m in withdrawn] == [(world["devices"][gp.id].token,)]
    types = [e["type"] for e in make.call("GET", f"/requests/{held['id']}/events", world["operator"]).json]
    assert types.count("community_opened") == 1 and types.count("offer_withdrawn") == 1


def test_the_confirmation_page_says_what_becomes_of_the_requests(make: Any, world: dict[str, Any]) -> None:
    from tests.pages.conftest import PageClient

    gp = world["gp"]
    make.open(world["operator"], world["community"], treating=gp)
    taken = make.open(world["operator"], world["community"], treating=gp)
    assert make.accept(gp, taken["id"], minutes=30).status_code == 200
    page = PageClient(make.app)
    page.sign_in(world["coordinator"].login)
    html = page.get(f"/pilotage/membres/{gp.user.id}/desactiver?community={world['community'].id}").get_data(as_text=True)
    assert "a accepté 1 demande pas encore vue" in html
    assert "1 demande lui est réservée" in html and "elle sera proposée tout de suite à tous les médecins" in html
