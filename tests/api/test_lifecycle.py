"""A request's whole life through the HTTP API, with the injected clock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import PushMessage, SmsMessage

PATIENT_IDENTITY = ("Lucie", "Martin", "1988-04-02", "+33612345678", "0612345678")


def setup_community(make: Any) -> dict[str, Any]:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician", name="Dr Paul Durand")
    others = [make.member(community, "physician", kind=kind) for kind in ("cami", "cami", "remplacant")]
    for physician in [gp, *others]:
        make.device(physician)
    return {"community": community, "operator": operator, "gp": gp, "others": others}


def test_full_life_exclusive_then_community_then_accept_then_synthesis(make: Any, clock: Any, ports: Any) -> None:
    world = setup_community(make)
    opened = make.open(world["operator"], world["community"], treating=world["gp"])
    assert opened["state"] == "exclusive"
    assert opened["exclusive_until"] == "2026-11-23T15:00:00Z"
    assert opened["expires_at"] == "2026-11-23T16:00:00Z"
    assert opened["patient"]["age"] == 38 and opened["treating_physician"]["registered"] is True

    make.deliver()
    pushes = [m for m in ports["push"].sent if isinstance(m, PushMessage)]
    assert len(pushes) == 1 and pushes[0].data["phase"] == "exclusive"
    assert pushes[0].data == {
        "type": "offer",
        "request_id": str(opened["id"]),
        "phase": "exclusive",
        "motive": "ent",
        "profession": "10",
        "modality": "in_person",
        "city": "Champigny-sur-Marne",
        "where": "Champigny-sur-Marne",  # the patient not placed (no BAN loaded): the commune without a distance
        "expires_at": "2026-11-23T15:00:00Z",
    }

    # A community member cannot take it during the exclusive hour.
    response = make.accept(world["others"][0], opened["id"])
    assert response.status_code == 403 and response.json["code"] == "not_eligible"

    clock.advance(seconds=3599)
    assert make.tick() == 0
    clock.advance(seconds=1)
    assert make.tick() == 1
    make.deliver()
    community_pushes = [m for m in ports["push"].sent[1:] if isinstance(m, PushMessage)]
    assert len(community_pushes) == 3 and {m.data["phase"] for m in community_pushes} == {"community"}

    # An offered community member sees the request anonymised.
    view = make.call("GET", f"/requests/{opened['id']}", world["others"][0]).json
    assert view["anonymised"] is True and "last_name" not in view["patient"] and "name" not in view["treating_physician"]
    offers = make.call("GET", "/me/offers", world["others"][0]).json
    assert [o["id"] for o in offers] == [opened["id"]]

    response = make.accept(world["others"][0], opened["id"])
    assert response.status_code == 200, response.json
    assert response.json["state"] == "accepted" and response.json["patient"]["last_name"] == "Martin"
    again = make.accept(world["others"][0], opened["id"])
    assert again.status_code == 200
    late = make.accept(world["others"][1], opened["id"])
    assert late.status_code == 409 and late.json["code"] == "already_accepted"

    make.deliver()
    withdrawals = [m for m in ports["push"].sent if isinstance(m, PushMessage) and m.data["type"] == "offer_withdrawn"]
    assert len(withdrawals) == 3  # the GP and the two other members
    assert all(m.title is None and m.collapse_key == f"request-{opened['id']}" for m in withdrawals)
    patient_sms = [m for m in ports["sms"].sent if isinstance(m, SmsMessage) and m.to == "+33612345678"]
    assert len(patient_sms) == 1 and "aujourd'hui" in patient_sms[0].body

    response = make.call(
        "POST",
        f"/requests/{opened['id']}/outcome",
        world["others"][0],
        json={"outcome": "seen", "synthesis": "Otite moyenne aiguë, amoxicilline 6 jours."},
    )
    assert response.status_code == 200 and response.json["state"] == "seen"
    make.deliver()
    assert len(ports["mail"].sent) == 1
    assert ports["mail"].sent[0]["To"] == world["gp"].mssante

    events = make.call("GET", f"/requests/{opened['id']}/events", world["operator"]).json
    assert [e["type"] for e in reversed(events)] == [
        "opened",
        "community_opened",
        "accepted",
        "seen",
        "synthesis_written",
        "synthesis_sent",
    ]


def test_no_patient_identity_reaches_a_physician(make: Any, clock: Any, ports: Any) -> None:
    world = setup_community(make)
    make.member(world["community"], "physician")  # no device: gets an SMS instead
    opened = make.open(world["operator"], world["community"], treating=world["gp"])
    make.call("POST", f"/requests/{opened['id']}/refuse", world["gp"], json={"reason": "En congés"})
    make.deliver()
    make.accept(world["others"][1], opened["id"])
    make.deliver()
    physician_rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.physician_id.is_not(None))).all()
    assert physician_rows
    for row in physician_rows:
        for secret in PATIENT_IDENTITY:
            assert secret not in str(row.payload)
    fallback = [m for m in ports["sms"].sent if m.to != "+33612345678"]
    assert len(fallback) == 1 and fallback[0].body.startswith(f"SNP : demande {opened['id']} - ")
    for message in ports["push"].sent + fallback:
        for secret in PATIENT_IDENTITY:
            assert secret not in repr(message)
