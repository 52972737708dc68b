"""Where the patient is, from the opening on: placed by the local BAN, the waves measured from that place, an
unplaced patient told to the operator, and the anonymised offers that say "≈ 4 km — Ormesson-sur-Marne", never the
street."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dispatch import texts
from dispatch.db import db
from dispatch.events import Event
from dispatch.geo.loading import load_file
from dispatch.gsm7 import fits, segments
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import PushMessage
from dispatch.requests.models import Offer, Request
from tests.geo import ban_file

PER_KM = 180 / (math.pi * 6371.0088)  # degrees of latitude per kilometre on the mean sphere
SALENGRO_3_BIS = (48.81684, 2.51575)  # 3 bis avenue Roger Salengro, Champigny-sur-Marne (the synthetic BAN's)
NBSP = "\u00a0"
STREET_WORDS = ("Salengro", "Olivier", "Ormesson d", "3 bis", "avenue", "Avenue")
IDENTITY = ("Lucie", "Martin", "1988-04-02", "+33612345678", "0612345678")


@pytest.fixture
def ban(app: Any, tmp_path: Path) -> None:
    load_file(ban_file.write(tmp_path / "adresses-94.csv.gz", gzipped=True))


def nurse_request(make: Any, community: Any, *, usual: Any = None, **patient: Any) -> dict[str, Any]:
    body = make.request_body(community, profession="60", acts=["pansement"])
    del body["treating_physician"], body["motive"]
    body["usual_professional"] = {"status": "declared", "rpps": usual.rpps} if usual is not None else {"status": "none"}
    body["patient"].update(patient)
    return body


def nurse_at(make: Any, community: Any, km_north: float, of: tuple[float, float] = SALENGRO_3_BIS, **fields: Any) -> Any:
    return make.member(
        community, "physician", profession="60", kind="titulaire", lat=of[0] + km_north * PER_KM, lon=of[1], **fields
    )


def test_the_opening_places_the_patient_on_their_house_number(ban: None, make: Any, as_user: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    body = nurse_request(make, community, address="3 bis av. Roger Salengro")
    answer = make.call("POST", "/requests", operator, json=body)
    assert answer.status_code == 201, answer.json
    assert answer.json["warnings"] == []
    assert answer.json["patient"]["address"] == "3 bis av. Roger Salengro"
    assert answer.json["patient"]["commune"] == "Champigny-sur-Marne"
    request = db.session.get(Request, answer.json["id"])
    assert request is not None
    assert (request.patient_lat, request.patient_lon) == SALENGRO_3_BIS
    assert (request.patient_precision, request.patient_commune) == ("housenumber", "Champigny-sur-Marne")
    no_street = make.call("POST", "/requests", operator, json=nurse_request(make, community)).json
    kept = db.session.get(Request, no_street["id"])
    assert kept is not None and kept.patient_precision == "municipality" and kept.patient_lat is not None
    page = as_user(operator).get(f"/console/demandes/{answer.json['id']}").get_data(as_text=True)
    assert "au numéro — Champigny-sur-Marne" in page and "unplaced-banner" not in page


def test_a_nurse_at_9_9_km_is_in_the_first_wave_one_at_10_1_km_is_not(ban: None, make: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    near, far = nurse_at(make, community, 9.9), nurse_at(make, community, 10.1)
    opened = make.call("POST", "/requests", operator, json=nurse_request(make, community, address="3 bis avenue Roger Salengro"))
    assert opened.status_code == 201 and opened.json["state"] == "community"
    rows = dict(
        db.session.execute(select(Offer.physician_id, Offer.distance_km).where(Offer.request_id == opened.json["id"])).all()
    )
    assert set(rows) == {near.id}
    assert rows[near.id] == pytest.approx(9.9, abs=0.001)
    assert far.id not in rows


def test_an_address_not_placed_goes_to_every_nurse_and_the_operator_is_told(ban: None, make: Any, clock: Any, as_user: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    usual = nurse_at(make, community, 1)
    make.device(usual)
    others = [nurse_at(make, community, 30), make.member(community, "physician", profession="60", kind="titulaire")]
    body = nurse_request(make, community, usual=usual, address="1 rue de la Roquette", postcode="75011", city="Paris")
    answer = make.call("POST", "/requests", operator, json=body)
    assert answer.status_code == 201 and answer.json["state"] == "exclusive"
    assert answer.json["warnings"] == [{"code": "address_not_located", "profession": "60"}]
    request_id = answer.json["id"]
    told = db.session.scalar(select(Event).where(Event.request_id == request_id, Event.type == "address_not_located"))
    assert told is not None and told.data == {"profession": "60"}
    page = as_user(operator).get(f"/console/demandes/{request_id}").get_data(as_text=True)
    expected = f"Adresse non localisée{NBSP}: la demande ira à tous les infirmiers après la phase exclusive"
    assert expected in page
    assert "Adresse non localisée" in page and "1 rue de la Roquette" in page  # the operator sees the address typed
    # After the usual nurse's six hours, every nurse has it, at any distance.
    clock.advance(hours=6)
    make.tick()
    offered = set(db.session.scalars(select(Offer.physician_id).where(Offer.request_id == request_id)))
    assert offered == {usual.id, *(n.id for n in others)}
    page = as_user(operator).get(f"/console/demandes/{request_id}").get_data(as_text=True)
    assert "Proposée à tous les infirmiers à la fois, sans vagues par distance." in page  # the machine's unplaced event
    assert "la demande est proposée à tous les infirmiers" in page  # the banner, now that the community has it


def test_an_address_too_long_is_refused_as_a_problem(ban: None, make: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    answer = make.call("POST", "/requests", operator, json=nurse_request(make, community, address="1 rue " + "x" * 300))
    assert answer.status_code == 422 and answer.headers["Content-Type"].startswith("application/problem+json")
    assert any("address" in field for field in answer.json["errors"])


def test_the_console_form_takes_the_street_and_number(ban: None, make: Any, as_user: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    client = as_user(operator)
    page = client.get(f"/console?community={community.id}").get_data(as_text=True)
    assert 'name="patient.address"' in page


def test_the_offer_sms_with_its_distance_is_still_one_segment() -> None:
    """The physicians' SMS keeps its promise of one segment (tests/notify/test_sms_texts.py) with a distance; for
    other professions the distance costs seven characters at most."""
    deadline = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
    link = "https://snp.cpts-val-de-bievre.fr/l/HgqqU8oR07lMNsEjI7Lkng"
    common = {"request_id": 123456, "city": "Villeneuve-Saint-Georges", "deadline": deadline, "tz": "Europe/Paris", "link": link}
    sms = texts.offer_sms(motive="rheumatology", distance_km=12.4, **common)
    assert "- Villeneuve-Saint-Georges (12km) -" in sms
    assert fits(sms) and segments(sms) == 1, (len(sms), sms)
    nurse = {"motive": "other", "profession": "60", "acts": ["prise_de_sang"], **common}
    far = texts.offer_sms(distance_km=123.4, **nurse)
    assert len(far) - len(texts.offer_sms(**nurse)) == 8 and "(123km)" in far


def test_the_band_and_the_commune() -> None:
    assert texts.where(distance_km=3.82, commune="Ormesson-sur-Marne") == f"≈{NBSP}4{NBSP}km — Ormesson-sur-Marne"
    assert texts.where(distance_km=0.4, commune="Ormesson-sur-Marne") == f"<{NBSP}1{NBSP}km — Ormesson-sur-Marne"
    assert texts.where(distance_km=4.5, commune=None) == f"≈{NBSP}5{NBSP}km"
    assert texts.where(distance_km=None, commune="Champigny-sur-Marne") == "Champigny-sur-Marne"
    assert texts.where(distance_km=None, commune=None) is None


def test_anonymised_offers_say_how_far_and_the_commune_never_the_street(
    ban: None, make: Any, ports: Any, as_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    community = make.community()
    operator = make.member(community, "operator")
    champigny = (48.81710, 2.51520)  # 1 avenue Roger Salengro: the practice, 3.8 km from the patient
    with_phone = nurse_at(make, community, 0, of=champigny)
    make.device(with_phone)
    without_phone = nurse_at(make, community, 0, of=champigny)  # no device: the SMS instead
    body = nurse_request(make, community, address="2 avenue Olivier d'Ormesson", postcode="94490", city="Ormesson")
    opened = make.call("POST", "/requests", operator, json=body).json
    assert opened["patient"]["commune"] == "Ormesson-sur-Marne"
    make.deliver()
    where = f"≈{NBSP}4{NBSP}km — Ormesson-sur-Marne"
    pushes = [m for m in ports["push"].sent if isinstance(m, PushMessage)]
    assert len(pushes) == 1 and where in (pushes[0].body or "") and pushes[0].data["where"] == where
    sms = [m for m in ports["sms"].sent if m.to != "+33612345678"]
    assert len(sms) == 1 and "- Ormesson-sur-Marne (4km) -" in sms[0].body
    listed = make.call("GET", "/me/offers", with_phone).json
    assert listed[0]["where"] == where and listed[0]["distance_km"] == 4 and listed[0]["anonymised"] is True
    assert "address" not in listed[0]["patient"]
    page = as_user(with_phone).get("/m/").get_data(as_text=True)
    assert where in page
    offer_page = as_user(without_phone).get(f"/m/requests/{opened['id']}").get_data(as_text=True)
    assert where in offer_page
    shown = [str(m.payload) for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.physician_id.is_not(None)))]
    said = [repr(m) for m in ports["push"].sent + sms] + shown + [record.getMessage() for record in caplog.records]
    said += [listed.__repr__(), page]
    for text in said:
        for secret in (*IDENTITY, *STREET_WORDS):
            assert secret not in text, (secret, text[:300])


def test_a_member_s_practice_is_placed_from_its_address_at_once(ban: None, make: Any) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    nurse = make.member(
        community, "physician", profession="60", kind="titulaire", address="3 bis av Roger Salengro, 94500 Champigny"
    )
    assert (nurse.lat, nurse.lon) == SALENGRO_3_BIS
    given = make.member(
        community, "physician", profession="60", kind="titulaire", address="1 rue X, 94500 Champigny", lat=48.0, lon=2.0
    )
    assert (given.lat, given.lon) == (48.0, 2.0)  # given outright: kept
    moved = make.call(
        "PATCH",
        f"/communities/{community.id}/members/{nurse.user_id}",
        coordinator,
        json={"address": "2 avenue Olivier d'Ormesson, 94490 Ormesson-sur-Marne"},
    )
    assert moved.status_code == 200, moved.json
    assert (moved.json["physician"]["lat"], moved.json["physician"]["lon"]) == (48.78590, 2.53710)


def test_a_push_rebuilt_when_it_leaves_late_keeps_the_distance(ban: None, make: Any, clock: Any, ports: Any) -> None:
    """A maintenance moved the request's deadline before its offer's push left: the push is rebuilt with the deadline
    of now, and still says how far the patient is from that nurse."""
    from dispatch import maintenance
    from dispatch.requests import outage

    community = make.community()
    operator = make.member(community, "operator")
    champigny = (48.81710, 2.51520)  # the practice, 3.8 km from the patient
    nurse = nurse_at(make, community, 0, of=champigny)
    make.device(nurse)
    body = nurse_request(make, community, address="2 avenue Olivier d'Ormesson", postcode="94490", city="Ormesson")
    opened = make.call("POST", "/requests", operator, json=body).json
    maintenance.start(now=clock.now(), reason="mise à jour", by="admin")
    clock.advance(minutes=30)
    outage.end_maintenance(now=clock.now())  # the deadlines move by the 30 minutes lost
    make.deliver()

    [push] = [m for m in ports["push"].sent if isinstance(m, PushMessage)]
    assert push.data["expires_at"] != opened["expires_at"]  # rebuilt with the deadline of now
    where = f"≈{NBSP}4{NBSP}km — Ormesson-sur-Marne"
    assert push.data["where"] == where and where in (push.body or "")
