"""The Géoplateforme online (DISPATCH_GEOCODER=geoplateforme): asked from the outbox after the opening, never during
it; its answer places the request (or a member's practice); a 429 waits for its Retry-After without losing the
message; a peer that hangs times out and is asked again later. Against a loopback peer only."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dispatch import create_app
from dispatch.db import db
from dispatch.events import Event
from dispatch.notify.geoplateforme import Geoplateforme, Pace, read_answer
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import Outcome
from dispatch.requests.models import Offer, Request
from dispatch.runtime import Ports
from tests.conftest import TEST_SETTINGS, luhn_rpps, serving
from tests.peers.geoplateforme import GeoplateformePeer, feature

PER_KM = 180 / (math.pi * 6371.0088)
PATIENT = (48.81684, 2.51575)
QUERY = "3 bis avenue Roger Salengro, 94500 Champigny-sur-Marne"
ANSWER = feature(
    PATIENT[1], PATIENT[0], kind="housenumber", city="Champigny-sur-Marne", postcode="94500", citycode="94017", label=QUERY
)


@pytest.fixture
def peer() -> Iterator[GeoplateformePeer]:
    with GeoplateformePeer() as running:
        running.state.answers[QUERY] = ANSWER
        yield running


@pytest.fixture
def app(database_url: str, clock: Any, ports: Any, peer: GeoplateformePeer) -> Iterator[Any]:
    """The application with the Géoplateforme as its geocoder (the loopback peer)."""
    settings = {
        **TEST_SETTINGS,
        "DISPATCH_DATABASE_URL": database_url,
        "DISPATCH_GEOCODER": "geoplateforme",
        "DISPATCH_GEOPLATEFORME_URL": peer.base,
    }
    application = create_app(settings, clock=clock, ports=Ports(**ports))
    with serving(application):
        yield application


@pytest.fixture
def geocoder(peer: GeoplateformePeer, clock: Any) -> Iterator[Geoplateforme]:
    adapter = Geoplateforme(peer.base, clock=clock.now, timeout=0.3)
    yield adapter
    adapter.close()


def open_nurse_request(make: Any, community: Any, operator: Any, usual: Any, address: str = "3 bis avenue Roger Salengro") -> int:
    body = make.request_body(community, profession="60", acts=["injection"])
    del body["treating_physician"], body["motive"]
    body["usual_professional"] = {"status": "declared", "rpps": usual.rpps}
    body["patient"]["address"] = address
    answer = make.call("POST", "/requests", operator, json=body)
    assert answer.status_code == 201, answer.json
    assert answer.json["warnings"] == []  # not known yet: the operator is told if the answer says so
    return int(answer.json["id"])


def world(make: Any) -> dict[str, Any]:
    community = make.community()
    operator = make.member(community, "operator")
    usual = make.member(community, "physician", profession="60", kind="titulaire", lat=PATIENT[0], lon=PATIENT[1])
    near = make.member(community, "physician", profession="60", kind="titulaire", lat=PATIENT[0] + 9.9 * PER_KM, lon=PATIENT[1])
    far = make.member(community, "physician", profession="60", kind="titulaire", lat=PATIENT[0] + 10.1 * PER_KM, lon=PATIENT[1])
    return {"community": community, "operator": operator, "usual": usual, "near": near, "far": far}


def geocoding(request_id: int) -> OutboxMessage:
    message = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.request_id == request_id, OutboxMessage.channel == "geocode")
    )
    assert message is not None
    db.session.refresh(message)
    return message


def test_the_answer_places_the_request_and_the_first_wave_measures_from_it(
    make: Any, clock: Any, peer: GeoplateformePeer, geocoder: Geoplateforme
) -> None:
    w = world(make)
    request_id = open_nurse_request(make, w["community"], w["operator"], w["usual"])
    request = db.session.get(Request, request_id)
    assert request is not None and request.patient_lat is None  # the opening asked nobody
    assert peer.state.queries == []
    make.deliver(geocoder=geocoder)
    assert peer.state.queries == [{"q": [QUERY], "index": ["address"], "limit": ["1"]}]
    db.session.refresh(request)
    assert (request.patient_lat, request.patient_lon) == PATIENT
    assert (request.patient_precision, request.patient_commune) == ("housenumber", "Champigny-sur-Marne")
    placed = db.session.scalar(select(Event).where(Event.request_id == request_id, Event.type == "placed"))
    assert placed is not None and placed.data == {"precision": "housenumber", "commune": "Champigny-sur-Marne"}
    assert geocoding(request_id).status == "sent"
    clock.advance(hours=6)
    make.tick()
    offered = set(db.session.scalars(select(Offer.physician_id).where(Offer.request_id == request_id)))
    assert offered == {w["usual"].id, w["near"].id}


def test_a_429_waits_for_its_retry_after_and_the_message_is_not_lost(
    make: Any, clock: Any, peer: GeoplateformePeer, geocoder: Geoplateforme
) -> None:
    w = world(make)
    request_id = open_nurse_request(make, w["community"], w["operator"], w["usual"])
    peer.state.mode, peer.state.retry_after = "throttle", "120"
    for _ in range(12):  # more than OUTBOX_MAX_ATTEMPTS: a throttled attempt does not count
        make.deliver(geocoder=geocoder)
        message = geocoding(request_id)
        assert message.status == "pending" and message.attempts == 0
        assert message.next_attempt_at >= clock.now() + timedelta(seconds=120)
        clock.advance(seconds=121)
    peer.state.mode = "answer"
    make.deliver(geocoder=geocoder)
    assert geocoding(request_id).status == "sent"
    request = db.session.get(Request, request_id)
    assert request is not None
    db.session.refresh(request)
    assert request.patient_lat == PATIENT[0]


def test_a_peer_that_hangs_times_out_and_is_asked_again_later(
    make: Any, clock: Any, peer: GeoplateformePeer, geocoder: Geoplateforme
) -> None:
    w = world(make)
    request_id = open_nurse_request(make, w["community"], w["operator"], w["usual"])
    peer.state.mode = "hang"
    started = time.monotonic()
    make.deliver(geocoder=geocoder)
    assert time.monotonic() - started < 3
    message = geocoding(request_id)
    assert message.status == "pending" and message.attempts == 1
    assert "geoplateforme unreachable: ReadTimeout" in (message.last_error or "")
    peer.state.mode = "answer"
    clock.set(message.next_attempt_at)
    make.deliver(geocoder=geocoder)
    assert geocoding(request_id).status == "sent"


def test_an_address_the_service_does_not_know_tells_the_operator(
    make: Any, clock: Any, peer: GeoplateformePeer, geocoder: Geoplateforme
) -> None:
    w = world(make)
    request_id = open_nurse_request(make, w["community"], w["operator"], w["usual"], address="999 chemin Inconnu")
    make.deliver(geocoder=geocoder)
    told = db.session.scalar(select(Event).where(Event.request_id == request_id, Event.type == "address_not_located"))
    assert told is not None and told.data == {"profession": "60"}
    clock.advance(hours=6)
    make.tick()
    offered = set(db.session.scalars(select(Offer.physician_id).where(Offer.request_id == request_id)))
    assert offered == {w["usual"].id, w["near"].id, w["far"].id}


def test_a_member_s_practice_is_placed_when_the_service_answers(
    make: Any, peer: GeoplateformePeer, geocoder: Geoplateforme
) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    practice = "3 bis avenue Roger Salengro, 94500 Champigny-sur-Marne"
    body = {
        "role": "professional",
        "profession": "60",
        "login": "inf.leroy",
        "name": "Claire Leroy",
        "password": "x" * 12,
        "rpps": luhn_rpps(9101),
        "address": practice,
    }
    made = make.call("POST", f"/communities/{community.id}/members", coordinator, json=body)
    assert made.status_code == 201, made.json
    make.deliver(geocoder=geocoder)
    member = make.call("GET", f"/communities/{community.id}/members/{made.json['user_id']}", coordinator).json
    assert (member["physician"]["lat"], member["physician"]["lon"]) == PATIENT


def test_the_answer_is_read_as_the_service_writes_it() -> None:
    placed = read_answer({"type": "FeatureCollection", "features": [ANSWER]})
    assert placed.outcome is Outcome.SENT and (placed.lat, placed.lon, placed.precision) == (*PATIENT, "housenumber")
    assert read_answer({"type": "FeatureCollection", "features": []}).lat is None
    low = feature(2.5, 48.8, kind="street", city="X", postcode="94500", citycode="94017", label="x", score=0.2)
    assert read_answer({"features": [low]}).lat is None
    assert read_answer({"oops": 1}).outcome is Outcome.TRANSIENT


def test_at_most_50_requests_a_second_from_one_process() -> None:
    pace = Pace(50)
    started = time.monotonic()
    for _ in range(26):
        pace.wait()
    assert time.monotonic() - started >= 0.49  # 25 intervals of 20 ms after the first
