"""Several professions: members of role professional, requests of a profession, offers only to that profession."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dispatch.db import db
from dispatch.notify.ports import PushMessage, SmsMessage
from dispatch.requests.models import Offer
from tests.conftest import luhn_rpps


def nurse_body(make: Any, community: Any, usual: Any = None, **changes: Any) -> dict[str, Any]:
    body = make.request_body(community, profession="60", acts=["prise_de_sang", "injection"])
    del body["treating_physician"], body["motive"]
    body["usual_professional"] = {"status": "declared", "rpps": usual.rpps} if usual is not None else {"status": "none"}
    body.update(changes)
    return body


def world(make: Any) -> dict[str, Any]:
    community = make.community(exclusive=3600, response=7200)
    operator = make.member(community, "operator")
    gps = [make.member(community, "physician") for _ in range(2)]
    nurses = [make.member(community, "physician", profession="60", kind="titulaire", name=f"Infirmière {i}") for i in range(3)]
    for member in [*gps, *nurses]:
        make.device(member)
    return {"community": community, "operator": operator, "gps": gps, "nurses": nurses}


def offered(request_id: int) -> set[int]:
    return set(db.session.scalars(select(Offer.physician_id).where(Offer.request_id == request_id)))


def test_a_coordinator_adds_a_nurse_as_a_professional_and_answers_keep_physician_for_physicians(make: Any) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    nurse = {"role": "professional", "profession": "60", "login": "inf.leroy", "name": "Claire Leroy", "password": "x" * 12}
    made = make.call("POST", f"/communities/{community.id}/members", coordinator, json={**nurse, "rpps": luhn_rpps(9001)})
    assert made.status_code == 201, made.json
    assert made.json["role"] == "professional"
    doctor = {"role": "physician", "login": "dr.x", "name": "Dr X", "password": "x" * 12, "kind": "titulaire"}
    made = make.call("POST", f"/communities/{community.id}/members", coordinator, json={**doctor, "rpps": luhn_rpps(9002)})
    assert made.status_code == 201 and made.json["role"] == "physician"
    listed = {m["login"]: m for m in make.call("GET", f"/communities/{community.id}/members", coordinator).json}
    assert listed["inf.leroy"]["role"] == "professional" and listed["inf.leroy"]["physician"]["profession"] == "60"
    assert listed["dr.x"]["role"] == "physician" and listed["dr.x"]["physician"]["profession"] == "10"


def test_a_professional_needs_a_known_profession_and_an_rpps(make: Any) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    body = {"role": "professional", "login": "inf.x", "name": "X", "password": "x" * 12}
    answer = make.call("POST", f"/communities/{community.id}/members", coordinator, json={**body, "profession": "99"})
    assert answer.status_code == 422
    assert set(answer.json["errors"]) >= {"profession", "rpps"}
    answer = make.call("POST", f"/communities/{community.id}/members", coordinator, json={**body, "rpps": luhn_rpps(9003)})
    assert answer.status_code == 422 and "profession" in answer.json["errors"]


def test_a_nurse_s_request_is_offered_to_nurses_only_never_to_a_physician(make: Any, clock: Any, ports: Any) -> None:
    w = world(make)
    response = make.call("POST", "/requests", w["operator"], json=nurse_body(make, w["community"]))
    assert response.status_code == 201, response.json
    opened = response.json
    assert opened["profession"] == "60" and opened["acts"] == ["prise_de_sang", "injection"] and opened["state"] == "community"
    assert offered(opened["id"]) == {n.id for n in w["nurses"]}
    make.deliver()
    pushes = [m for m in ports["push"].sent if isinstance(m, PushMessage)]
    assert pushes and all(p.title == "Soins infirmiers non programmés" for p in pushes)
    assert all(p.body.startswith("Prise de sang, Injection · ") and p.data["profession"] == "60" for p in pushes)
    # A physician cannot take it either.
    assert make.accept(w["gps"][0], opened["id"]).status_code == 403
    assert make.accept(w["nurses"][1], opened["id"]).status_code == 200


def test_a_physician_s_request_is_never_offered_to_a_nurse(make: Any) -> None:
    w = world(make)
    opened = make.open(w["operator"], w["community"])
    assert opened["profession"] == "10" and opened["usual_professional"] is None
    assert offered(opened["id"]) == {gp.id for gp in w["gps"]}
    assert make.accept(w["nurses"][0], opened["id"]).status_code == 403


def test_the_usual_nurse_has_it_alone_first_then_only_nurses(make: Any, clock: Any) -> None:
    w = world(make)
    usual = w["nurses"][0]
    response = make.call("POST", "/requests", w["operator"], json=nurse_body(make, w["community"], usual=usual))
    assert response.status_code == 201, response.json
    opened = response.json
    assert opened["state"] == "exclusive" and offered(opened["id"]) == {usual.id}
    assert opened["usual_professional"]["registered"] is True
    clock.advance(seconds=21599)  # the usual nurse's six hours (the default rules of profession 60)
    assert make.tick() == 0
    clock.advance(seconds=1)
    assert make.tick() == 1
    assert offered(opened["id"]) == {n.id for n in w["nurses"]}  # the patient is not placed: every nurse


def test_a_physician_named_as_a_nurse_s_usual_professional_gets_nothing(make: Any) -> None:
    w = world(make)
    gp = w["gps"][0]
    response = make.call("POST", "/requests", w["operator"], json=nurse_body(make, w["community"], usual=gp))
    assert response.status_code == 201 and response.json["state"] == "community"
    assert gp.id not in offered(response.json["id"])


def test_a_nurse_s_request_asks_for_known_acts_and_its_usual_professional(make: Any) -> None:
    w = world(make)
    body = nurse_body(make, w["community"], acts=["massage"])
    del body["usual_professional"]
    answer = make.call("POST", "/requests", w["operator"], json=body)
    assert answer.status_code == 422
    assert set(answer.json["errors"]) == {"acts", "usual_professional"}
    physician_body = make.request_body(w["community"])
    del physician_body["motive"]
    answer = make.call("POST", "/requests", w["operator"], json=physician_body)
    assert answer.status_code == 422 and set(answer.json["errors"]) == {"motive"}


def test_the_offer_s_sms_to_a_nurse_without_a_device_speaks_to_a_nurse(make: Any, clock: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    make.member(community, "physician", profession="60", kind="titulaire")  # no device: the offer goes by SMS
    opened = make.call("POST", "/requests", operator, json=nurse_body(make, community, acts=["pansement"])).json
    make.deliver()
    sms = [m for m in ports["sms"].sent if isinstance(m, SmsMessage) and f"demande {opened['id']}" in m.body]
    assert len(sms) == 1 and sms[0].body.startswith(f"SNP infirmier : demande {opened['id']} - Pansement")
