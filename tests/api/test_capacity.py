"""Floating slots: "I can take N more until HH:MM" (PUT /me/availability's capacity), through the HTTP API.

A member whose slot is full gets no offer (the community phase, the treating GP's exclusive phase, a re-offer after
a hand-back) until the slot lapses or a patient of theirs is handed back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.db import db
from dispatch.notify.ports import PushMessage
from dispatch.requests.models import Offer
from tests.api.test_rules import north, place_patient


def offered(ports: Any, start: int = 0) -> list[tuple[str, ...]]:
    return [m.tokens for m in ports["push"].sent[start:] if isinstance(m, PushMessage) and m.data["type"] == "offer"]


def until(clock: Any, **delta: int) -> str:
    return (clock.now() + timedelta(**delta)).isoformat()


def world(make: Any) -> dict[str, Any]:
    community = make.community()
    operator = make.member(community, "operator")
    busy = make.member(community, "physician")
    other = make.member(community, "physician")
    make.device(busy, token=f"device-{busy.id}")
    make.device(other, token=f"device-{other.id}")
    return {"community": community, "operator": operator, "busy": busy, "other": other}


def test_the_answer_shows_the_slot_and_what_is_left(make: Any, clock: Any) -> None:
    w = world(make)
    start = make.call("GET", "/me/availability", w["busy"])
    assert start.status_code == 200
    assert start.json == {"available": True, "until": None, "capacity": None, "capacity_until": None, "capacity_left": None}
    declared = make.call("PUT", "/me/availability", w["busy"], json={"capacity": 2, "until": until(clock, hours=4)})
    assert declared.status_code == 200, declared.json
    assert declared.json["capacity"] == 2 and declared.json["capacity_left"] == 2
    assert declared.json["capacity_until"] == "2026-11-23T18:00:00Z"
    opened = make.open(w["operator"], w["community"])
    assert make.accept(w["busy"], opened["id"], minutes=30).status_code == 200
    assert make.call("GET", "/me/availability", w["busy"]).json["capacity_left"] == 1
    clock.advance(hours=4)  # the slot lapses at its end, that instant included
    assert make.call("GET", "/me/availability", w["busy"]).json["capacity"] is None
    removed = make.call("PUT", "/me/availability", w["busy"], json={"capacity": 3, "until": until(clock, hours=1)})
    assert removed.json["capacity_left"] == 3  # what was taken before the declaration does not count
    gone = make.call("PUT", "/me/availability", w["busy"], json={"capacity": None})
    assert gone.status_code == 200 and gone.json["capacity"] is None and gone.json["available"] is True


def test_a_full_slot_gets_no_offer_until_a_hand_back(make: Any, clock: Any, ports: Any) -> None:
    w = world(make)
    busy, other = w["busy"], w["other"]
    make.call("PUT", "/me/availability", busy, json={"capacity": 1, "until": until(clock, hours=5)})
    first = make.open(w["operator"], w["community"])
    assert make.accept(busy, first["id"], minutes=30).status_code == 200
    make.deliver()
    sent = len(ports["push"].sent)
    make.open(w["operator"], w["community"])  # full: only the other one gets it
    make.deliver()
    assert offered(ports, sent) == [(f"device-{other.id}",)]
    # Full, and the patient's registered GP: no exclusive hour, the community has it at once.
    held = make.open(w["operator"], w["community"], treating=busy)
    assert held["state"] == "community"

    released = make.call("POST", f"/requests/{first['id']}/release", busy, json={"reason": "Urgence au cabinet"})
    assert released.status_code == 200
    assert make.call("GET", "/me/availability", busy).json["capacity_left"] == 1
    make.deliver()
    sent = len(ports["push"].sent)
    make.open(w["operator"], w["community"])  # room again: both
    make.deliver()
    assert sorted(offered(ports, sent)) == sorted([(f"device-{busy.id}",), (f"device-{other.id}",)])


def test_a_slot_that_lapses_lets_offers_in_again(make: Any, clock: Any, ports: Any) -> None:
    w = world(make)
    busy = w["busy"]
    make.call("PUT", "/me/availability", busy, json={"capacity": 1, "until": until(clock, hours=1)})
    first = make.open(w["operator"], w["community"])
    assert make.accept(busy, first["id"], minutes=30).status_code == 200
    clock.advance(minutes=59, seconds=59)
    make.deliver()
    sent = len(ports["push"].sent)
    make.open(w["operator"], w["community"])
    make.deliver()
    assert (f"device-{busy.id}",) not in offered(ports, sent)
    clock.advance(seconds=1)
    sent = len(ports["push"].sent)
    make.open(w["operator"], w["community"])
    make.deliver()
    assert (f"device-{busy.id}",) in offered(ports, sent)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"capacity": 0, "until": "+2h"}, "capacity"),
        ({"capacity": -1, "until": "+2h"}, "capacity"),
        ({"capacity": "2", "until": "+2h"}, "capacity"),
        ({"capacity": True, "until": "+2h"}, "capacity"),
        ({"capacity": 2.5, "until": "+2h"}, "capacity"),
        ({"capacity": 10**9, "until": "+2h"}, "capacity"),
        ({"capacity": 21, "until": "+2h"}, "capacity"),
        ({"capacity": 2}, "until"),
        ({"capacity": 2, "until": "-1m"}, "until"),
        ({"capacity": 2, "until": "+0m"}, "until"),
        ({"capacity": 2, "until": "+25h"}, "until"),
        ({"capacity": 2, "until": "+2h", "available": False}, "available"),
        ({}, "available"),
    ],
)
def test_a_wrong_slot_is_answered_in_french_never_a_500(make: Any, clock: Any, body: dict[str, Any], field: str) -> None:
    physician = make.member(make.community(), "physician")
    if "until" in body:
        sign, amount, unit = body["until"][0], int(body["until"][1:-1]), body["until"][-1]
        delta = timedelta(**{"hours" if unit == "h" else "minutes": amount})
        body = {**body, "until": (clock.now() + delta if sign == "+" else clock.now() - delta).isoformat()}
    response = make.call("PUT", "/me/availability", physician, json=body)
    assert response.status_code == 422, response.json
    assert response.content_type == "application/problem+json"
    assert field in response.json["errors"], response.json
    assert make.call("GET", "/me/availability", physician).json["capacity"] is None


def test_the_openapi_publishes_the_slot(make: Any) -> None:
    spec = make.client.get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    assert {"capacity", "until", "available"} <= set(schemas["AvailabilityIn"]["properties"])
    assert schemas["AvailabilityIn"]["properties"]["capacity"]["maximum"] == 20
    assert {"capacity", "capacity_until", "capacity_left"} <= set(schemas["AvailabilityOut"]["properties"])
    assert "get" in spec["paths"]["/api/v1/me/availability"]


def test_a_full_member_is_not_offered_a_handed_back_request_again_nor_a_wave(make: Any, clock: Any) -> None:
    w = world(make)
    busy, other = w["busy"], w["other"]
    third = make.member(w["community"], "physician")
    first = make.open(w["operator"], w["community"])  # offered to the three
    make.call("PUT", "/me/availability", busy, json={"capacity": 1, "until": until(clock, hours=5)})
    assert make.accept(busy, make.open(w["operator"], w["community"])["id"], minutes=30).status_code == 200  # full now
    assert make.accept(other, first["id"], minutes=60).status_code == 200  # busy's and third's offers are withdrawn
    assert make.call("POST", f"/requests/{first['id']}/release", other, json={"reason": "Urgence"}).status_code == 200
    offers = dict(db.session.execute(select(Offer.physician_id, Offer.status).where(Offer.request_id == first["id"])).all())
    assert offers == {busy.id: "withdrawn", other.id: "released", third.id: "notified"}  # only third gets it again

    # A nurse at capacity within the wave's radius: the wave opens without her.
    usual = make.member(w["community"], "physician", profession="60", kind="titulaire", **north(1))
    full = make.member(w["community"], "physician", profession="60", kind="titulaire", **north(2))
    free = make.member(w["community"], "physician", profession="60", kind="titulaire", **north(3))
    body = make.request_body(w["community"], profession="60", acts=["pansement"])
    del body["treating_physician"], body["motive"]
    body["usual_professional"] = {"status": "declared", "rpps": usual.rpps}
    taken = make.call("POST", "/requests", w["operator"], json={**body, "usual_professional": {"status": "none"}}).json
    make.call("PUT", "/me/availability", full, json={"capacity": 1, "until": until(clock, hours=5)})
    assert make.accept(full, taken["id"], minutes=30).status_code == 200
    nursing = make.call("POST", "/requests", w["operator"], json=body).json
    place_patient(nursing["id"], *north(0).values())
    assert make.call("POST", f"/requests/{nursing['id']}/refuse", usual, json={}).status_code == 200
    offers = dict(db.session.execute(select(Offer.physician_id, Offer.status).where(Offer.request_id == nursing["id"])).all())
    assert offers == {usual.id: "refused", free.id: "notified"}
