"""Handing a patient back (POST /requests/{id}/release) through the HTTP API, with the injected clock."""

from __future__ import annotations

from typing import Any

from dispatch.notify.ports import PushMessage, SmsMessage


def world(make: Any) -> dict[str, Any]:
    community = make.community()
    operator = make.member(community, "operator", phone="+33698765432")
    others = [make.member(community, "physician", kind="cami") for _ in range(3)]
    for physician in others:
        make.device(physician)
    return {"community": community, "operator": operator, "others": others}


def release(make: Any, physician: Any, request_id: int, reason: str = "Urgence au cabinet") -> Any:
    return make.call("POST", f"/requests/{request_id}/release", physician, json={"reason": reason})


def test_hand_back_offers_the_patient_again_and_tells_the_patient_and_the_operator(make: Any, clock: Any, ports: Any) -> None:
    w = world(make)
    first, second, third = w["others"]
    opened = make.open(w["operator"], w["community"])
    assert make.accept(first, opened["id"], minutes=150).status_code == 200
    make.deliver()
    sent_before = len(ports["push"].sent)

    clock.advance(minutes=100)  # 20 min left of the 2 h window
    response = release(make, first, opened["id"])
    assert response.status_code == 200, response.json
    assert response.json["state"] == "community" and response.json["accepted_by"] is None
    assert response.json["expires_at"] == "2026-11-23T16:00:00Z"
    assert response.json["anonymised"] is True  # no longer theirs

    make.deliver()
    offers = [m for m in ports["push"].sent[sent_before:] if isinstance(m, PushMessage) and m.data["type"] == "offer"]
    assert len(offers) == 2  # the two others, withdrawn at the acceptance, get it again; never the releaser
    assert all(m.data["phase"] == "community" for m in offers)
    texts = {m.to: m.body for m in ports["sms"].sent if isinstance(m, SmsMessage)}
    assert "annul" in texts["+33612345678"] and "autre médecin" in texts["+33612345678"]
    assert "désisté" in texts["+33698765432"]
    events = make.call("GET", f"/requests/{opened['id']}/events", w["operator"]).json
    released = [e for e in events if e["type"] == "released"]
    assert released and released[0]["data"]["reason"] == "Urgence au cabinet"

    # The releaser may not take it back; another physician may, and the round's messages do not collide.
    assert make.accept(first, opened["id"], minutes=30).status_code == 403
    assert make.call("GET", "/me/offers", second).json[0]["id"] == opened["id"]
    taken = make.accept(second, opened["id"], minutes=30)
    assert taken.status_code == 200 and taken.json["accepted_by"]["physician_id"] == second.id
    make.deliver()
    patient_sms = [m for m in ports["sms"].sent if isinstance(m, SmsMessage) and m.to == "+33612345678"]
    assert len(patient_sms) == 3  # appointment, cancelled, new appointment

    coordinator = make.member(w["community"], "coordinator")
    report = make.call("GET", f"/communities/{w['community'].id}/report?from=2026-11-23&to=2026-11-23", coordinator).json
    rows = {row["physician_id"]: (row["accepted"], row["released"]) for row in report["by_physician"]}
    assert rows[first.id] == (0, 1) and rows[second.id] == (1, 0)
    assert report["accepted"] == 1 and sum(report["accepted_by_kind"].values()) == 1


def test_hand_back_late_in_the_window_gives_at_least_15_minutes(make: Any, clock: Any) -> None:
    w = world(make)
    opened = make.open(w["operator"], w["community"])
    assert make.accept(w["others"][0], opened["id"], minutes=180).status_code == 200
    clock.advance(minutes=125)  # past the original expiry
    response = release(make, w["others"][0], opened["id"])
    assert response.status_code == 200 and response.json["expires_at"] == "2026-11-23T16:20:00Z"
    clock.advance(minutes=15)
    assert make.tick() == 1
    assert make.call("GET", f"/requests/{opened['id']}", w["operator"]).json["state"] == "expired"


def test_hand_back_refusals(make: Any, clock: Any) -> None:
    w = world(make)
    first, second, _ = w["others"]
    opened = make.open(w["operator"], w["community"])
    not_yet = release(make, first, opened["id"])
    assert not_yet.status_code == 409 and not_yet.json["code"] == "not_accepted_by_you"  # CONTRACT: not accepted by me
    assert make.accept(first, opened["id"], minutes=30).status_code == 200
    other = release(make, second, opened["id"])
    assert other.status_code == 409 and other.json["code"] == "not_accepted_by_you"
    assert other.json["detail"].startswith("Vous n'avez pas accepté cette demande")
    operator = release(make, w["operator"], opened["id"])
    assert operator.status_code == 403 and operator.json["code"] == "forbidden"  # not a physician: the role answers
    stranger = make.member(make.community(), "physician")
    assert release(make, stranger, opened["id"]).status_code == 404  # another community's: not even there
    missing = make.call("POST", f"/requests/{opened['id']}/release", first, json={})
    assert missing.status_code == 422 and "reason" in missing.json["errors"]
    clock.advance(minutes=30)
    late = release(make, first, opened["id"])
    assert late.status_code == 409 and late.json["code"] == "too_late"
