"""An offer for a teleconsultation says so on the lock screen and in the SMS, sent on time or rebuilt late; an offer in
person does not; neither names the patient."""

from __future__ import annotations

from typing import Any

from dispatch.notify.ports import PushMessage

PATIENT = {
    "first_name": "Lucie",
    "last_name": "Martin",
    "birth_date": "1988-04-02",
    "sex": "F",
    "phone": "+33612345678",
    "address": "12 rue des Glycines",
    "postcode": "94500",
    "city": "Champigny-sur-Marne",
}
IDENTITY = ("Lucie", "Martin", "1988-04-02", "+33612345678", "0612345678", "Glycines", "12 rue")


def offers(ports: Any, request_id: int) -> list[PushMessage]:
    return [
        m
        for m in ports["push"].sent
        if isinstance(m, PushMessage) and m.data["type"] == "offer" and m.data["request_id"] == str(request_id)
    ]


def physician_sms(ports: Any) -> list[str]:
    return [m.body for m in ports["sms"].sent if m.to != PATIENT["phone"]]


def said(pushes: list[PushMessage], sms: list[str]) -> list[str]:
    return [f"{m.title} {m.body} {m.data}" for m in pushes] + sms


def test_a_teleconsultation_offer_says_so_in_its_push_and_its_sms(make: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    with_phone = make.member(community, "physician")
    make.device(with_phone)
    make.member(community, "physician")  # no device: the SMS instead
    opened = make.open(operator, community, modality="teleconsultation", patient=PATIENT)
    make.deliver()

    [push] = offers(ports, opened["id"])
    assert push.body is not None and push.body.startswith("Téléconsultation · ORL · ")
    assert push.title == "Demande de soins non programmés" and push.data["modality"] == "teleconsultation"
    [sms] = physician_sms(ports)
    assert sms.startswith(f"SNP : téléconsultation {opened['id']} - ORL - ") and " - avant " in sms
    for text in said([push], [sms]):
        for secret in IDENTITY:
            assert secret not in text, (secret, text)


def test_an_in_person_offer_does_not(make: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    with_phone = make.member(community, "physician")
    make.device(with_phone)
    make.member(community, "physician")
    opened = make.open(operator, community, patient=PATIENT)
    make.deliver()

    [push] = offers(ports, opened["id"])
    assert push.body is not None and push.body.startswith("ORL · ") and push.data["modality"] == "in_person"
    [sms] = physician_sms(ports)
    assert sms.startswith(f"SNP : demande {opened['id']} - ORL - ") and " - à prendre avant " in sms
    for text in said([push], [sms]):
        assert "léconsultation" not in text.lower()
        for secret in IDENTITY:
            assert secret not in text, (secret, text)


def test_a_teleconsultation_offer_rebuilt_when_sent_late_still_says_so(make: Any, clock: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    make.device(gp)
    opened = make.open(operator, community, treating=gp, modality="teleconsultation", patient=PATIENT)
    clock.advance(seconds=3600 + 60)  # the sender was down during the whole exclusive hour: the GP's push is rebuilt
    make.tick()
    make.deliver()

    [push] = offers(ports, opened["id"])
    assert push.data["phase"] == "community" and push.data["expires_at"] == opened["expires_at"]  # rebuilt
    assert push.body is not None and push.body.startswith("Téléconsultation · ") and push.data["modality"] == "teleconsultation"
    for text in said([push], []):
        for secret in IDENTITY:
            assert secret not in text, (secret, text)
