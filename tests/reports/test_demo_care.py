"""The demo's nurses and physiotherapist: six weeks of requests that follow the nurses' rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from dispatch.auth.models import User
from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.demo import load_demo
from dispatch.professions import NURSE, PHYSIOTHERAPIST
from dispatch.requests.models import Offer, Request


def test_the_nurses_requests_follow_their_rules_and_never_reach_beyond_the_wave(app: Any) -> None:
    with app.app_context():
        load_demo(app)
        nurses = {
            login: member
            for login, member in db.session.execute(
                select(User.login, Physician).join(Physician.user).where(Physician.profession == NURSE)
            )
        }
        requests = db.session.scalars(select(Request).where(Request.profession == NURSE)).all()
        offers = db.session.scalars(select(Offer).join(Request).where(Request.profession == NURSE)).all()
        physio = db.session.scalars(select(Request).where(Request.profession == PHYSIOTHERAPIST)).all()
        physio_offers = db.session.scalars(select(Offer).join(Request).where(Request.profession == PHYSIOTHERAPIST)).all()
    assert len(nurses) == 5 and len(requests) > 100 and len(physio) > 10
    assert all(r.patient_lat is not None and r.acts for r in requests)
    assert all(offer.physician_id in {n.id for n in nurses.values()} for offer in offers)  # nurses only
    # Rungis is more than 10 km from every patient of the demo: never offered a request.
    assert nurses["idel.vidal"].id not in {offer.physician_id for offer in offers}
    community = [offer for offer in offers if offer.phase == "community"]
    assert community and all(offer.distance_km is not None and offer.distance_km <= 10 for offer in community)
    by_id = {r.id: r for r in requests}
    for offer in community:  # the wave opened after the usual nurse's 6 hours, or at once without one
        request = by_id[offer.request_id]
        assert offer.offered_at == request.opened_at + (timedelta(hours=6) if request.treating_physician_id else timedelta(0))
    taken_by_usual = [r for r in requests if r.accepted_phase == "exclusive"]
    assert taken_by_usual and all(r.accepted_by_id == r.treating_physician_id for r in taken_by_usual)
    assert {offer.status for offer in physio_offers} == {"accepted", "withdrawn"}


def test_the_demo_loads_its_address_extract_and_places_an_opening_on_it(make: Any, app: Any) -> None:
    from dispatch.geo.models import BanAddress

    with app.app_context():
        lines = load_demo(app)
        assert any("Extrait de la base adresse nationale" in line for line in lines)
        assert db.session.query(BanAddress).count() > 20
        assert not any("Extrait" in line for line in load_demo(app))  # once
        operator = db.session.scalar(select(User).where(User.login == "operateur"))
        community_id = operator.memberships[0].community_id
        # The physicians' practices were placed from it when they were created.
        durand = db.session.scalar(select(Physician).join(Physician.user).where(User.login == "dr.durand"))
        assert durand is not None and durand.lat is not None
    body = make.request_body(type("C", (), {"id": community_id})(), profession=NURSE, acts=["pansement"])
    body.pop("treating_physician")
    body["usual_professional"] = {"status": "none"}
    body["patient"].update(address="10 boulevard de Stalingrad", postcode="94500", city="Champigny-sur-Marne")
    from dispatch.demo import PASSWORD

    token = make.client.post("/api/v1/auth/token", json={"login": "operateur", "password": PASSWORD}).json["access_token"]
    opened = make.client.post("/api/v1/requests", json=body, headers={"Authorization": f"Bearer {token}"})
    assert opened.status_code == 201, opened.json
    with app.app_context():
        request = db.session.get(Request, opened.json["id"])
        assert request is not None and request.patient_precision == "housenumber" and request.patient_lat is not None
