"""A request's pushes and SMS through the factory-built app, real firebase-admin and twilio, local peers."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from dispatch.communities.models import Device
from dispatch.db import db
from dispatch.gsm7 import segments
from dispatch.notify.models import OutboxMessage
from dispatch.notify.twilio_sms import TwilioSms
from dispatch.requests.models import Event, OfferLink
from tests.notify.conftest import PUBLIC_URL, SENDER, Live
from tests.peers.fcm import INTERNAL, QUOTA_EXCEEDED, UNAVAILABLE
from tests.peers.twilio import TOO_MANY_REQUESTS
from tests.peers.twilio import UNAVAILABLE as TWILIO_UNAVAILABLE

PATIENT_IDENTITY = ("Lucie", "Martin", "1988-04-02", "+33612345678", "0612345678", "12 34 56 78")
PATIENT_PHONE = "+33612345678"


def world(live: Live, physicians: int = 3, treating: bool = True) -> dict[str, Any]:
    make = live.make
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician", name="Dr Paul Durand") if treating else None
    others = [make.member(community, "physician") for _ in range(physicians)]
    for physician in [p for p in (gp, *others) if p is not None]:
        make.device(physician, token=f"tok-{physician.id}")
    return {"community": community, "operator": operator, "gp": gp, "others": others}


def rows(**where: Any) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    for name, value in where.items():
        query = query.where(getattr(OutboxMessage, name) == value)
    return list(db.session.scalars(query))


def assert_anonymous(texts: list[str]) -> None:
    for text in texts:
        for secret in PATIENT_IDENTITY:
            assert secret not in text


def test_offers_withdrawals_and_patient_sms_end_to_end(live: Live) -> None:
    w = world(live)
    opened = live.make.open(w["operator"], w["community"], treating=w["gp"])
    live.make.deliver()

    [offer] = live.fcm.messages
    exclusive_until = datetime.fromisoformat(opened["exclusive_until"])
    assert offer["token"] == f"tok-{w['gp'].id}"
    assert offer["data"] == {
        "type": "offer",
        "request_id": str(opened["id"]),
        "phase": "exclusive",
        "motive": "ent",
        "profession": "10",
        "modality": "in_person",
        "city": "Champigny-sur-Marne",
        "where": "Champigny-sur-Marne",  # the commune alone: the patient is not placed (no distance)
        "expires_at": "2026-11-23T15:00:00Z",
    }
    assert offer["notification"] == {
        "title": "Demande de soins non programmés",
        "body": "ORL · Champigny-sur-Marne · avant 16:00",
    }  # Paris time
    collapse = f"request-{opened['id']}"
    assert offer["android"] == {
        "collapse_key": collapse,
        "priority": "high",
        "ttl": "3600s",
        "notification": {"tag": collapse, "sound": "default"},
    }
    assert offer["apns"]["payload"] == {"aps": {"sound": "default", "interruption-level": "time-sensitive"}}
    assert offer["apns"]["headers"] == {
        "apns-collapse-id": collapse,
        "apns-priority": "10",
        "apns-push-type": "alert",
        "apns-expiration": str(int(exclusive_until.timestamp())),
    }

    live.clock.advance(seconds=3600)
    assert live.make.tick() == 1
    live.make.deliver()
    community = live.fcm.messages[1:]
    assert sorted(m["token"] for m in community) == sorted(f"tok-{p.id}" for p in w["others"])
    expires_at = datetime.fromisoformat(opened["expires_at"])
    for message in community:  # the community's deadline: one hour left
        assert message["data"]["phase"] == "community" and message["android"]["ttl"] == "3600s"
        assert message["apns"]["headers"]["apns-expiration"] == str(int(expires_at.timestamp()))

    live.twilio.fail_next(1, TWILIO_UNAVAILABLE)
    live.twilio.fail_next(1, TOO_MANY_REQUESTS)
    live.clock.advance(seconds=600)
    response = live.make.accept(w["others"][0], opened["id"])
    assert response.status_code == 200, response.json
    for _ in range(3):  # the patient SMS meets a 503, then a 429, then goes
        live.make.deliver()
        live.clock.advance(seconds=10)

    withdrawals = [m for m in live.fcm.messages if m["data"]["type"] == "offer_withdrawn"]
    assert sorted(m["token"] for m in withdrawals) == sorted(f"tok-{p.id}" for p in (w["gp"], *w["others"][1:]))
    for message in withdrawals:  # data-only, background, replacing the offer on the phone
        assert "notification" not in message and message["data"]["reason"] == "accepted"
        assert message["android"] == {"collapse_key": collapse, "priority": "normal", "ttl": "3000s"}
        assert message["apns"]["headers"]["apns-collapse-id"] == collapse
        assert message["apns"]["headers"]["apns-priority"] == "5"
        assert message["apns"]["headers"]["apns-expiration"] == str(int(expires_at.timestamp()))

    [patient] = live.twilio.messages
    assert [c.status for c in live.twilio.calls] == [503, 429, 201]
    assert patient.form["To"] == PATIENT_PHONE and patient.form["From"] == SENDER
    assert patient.form["StatusCallback"] == f"{PUBLIC_URL}/api/v1/webhooks/twilio/status"
    accepted_by = w["others"][0]
    assert accepted_by.user.name in patient.form["Body"] and accepted_by.address in patient.form["Body"]
    assert "aujourd'hui à 16:10" in patient.form["Body"]  # an appointment at once: 15:10 UTC, Paris time
    [row] = rows(kind="patient_appointment")
    assert (row.status, row.attempts, row.provider_id, row.provider_status) == ("sent", 3, patient.sid, "queued")
    assert {r.status for r in rows(channel="push")} == {"sent"}
    assert_anonymous([repr(m) for m in live.fcm.messages])


def test_dead_tokens_are_pruned_and_their_physicians_get_an_sms(live: Live) -> None:
    w = world(live, physicians=4, treating=False)
    unregistered, invalid, mixed, deviceless = w["others"]
    live.fcm.unregistered.add(f"tok-{unregistered.id}")
    live.fcm.invalid.add(f"tok-{invalid.id}")
    live.make.device(mixed, token="tok-mixed-old")
    live.fcm.unregistered.add("tok-mixed-old")
    db.session.execute(Device.__table__.delete().where(Device.physician_id == deviceless.id))
    db.session.commit()

    opened = live.make.open(w["operator"], w["community"])
    assert opened["state"] == "community"
    live.make.deliver()

    remaining = set(db.session.scalars(select(Device.token)))
    assert remaining == {f"tok-{mixed.id}"}
    statuses = {r.physician_id: r.status for r in rows(channel="push")}
    assert statuses == {unregistered.id: "dead_token", invalid.id: "dead_token", mixed.id: "sent", deviceless.id: "fallback"}
    sms = {m.form["To"]: m.form["Body"] for m in live.twilio.messages}
    assert set(sms) == {unregistered.user.phone, invalid.user.phone, deviceless.user.phone}
    # Each physician's SMS carries their own single-use link (issue 22), one segment with it.
    start = f"SNP : demande {opened['id']} - ORL - Champigny-sur-Marne - à prendre avant 17:00. Voir : {PUBLIC_URL}/l/"
    links = {phone: body.removeprefix(start) for phone, body in sms.items()}
    assert all(body.startswith(start) and segments(body) == 1 for body in sms.values()), sms
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", link) for link in links.values()) and len(set(links.values())) == 3
    assert_anonymous(list(sms.values()))
    assert {r.status for r in rows(channel="sms")} == {"sent"}
    # Once sent, the outbox keeps no usable link: only its digest is kept, in offer_links.
    assert all(link not in repr(r.payload) for r in rows(channel="sms") for link in links.values())
    assert db.session.scalar(select(func.count()).select_from(OfferLink)) == 3

    live.make.deliver()  # nothing is sent twice
    assert len(live.twilio.messages) == 3 and len(live.fcm.messages) == 1


def test_bursts_of_503_and_429_are_retried_with_backoff_then_delivered(live: Live) -> None:
    w = world(live, physicians=6, treating=False)
    live.fcm.fail_next(3, UNAVAILABLE)
    live.fcm.fail_next(2, QUOTA_EXCEEDED)
    live.make.open(w["operator"], w["community"])

    live.make.deliver()
    first = rows(channel="push")
    assert sorted(r.status for r in first) == ["pending"] * 5 + ["sent"]
    unavailable = [r for r in first if r.last_error == "UNAVAILABLE=1"]
    quota = [r for r in first if r.last_error == "QUOTA_EXCEEDED=1, retry_after=60"]
    assert (len(unavailable), len(quota)) == (3, 2)
    for row in unavailable:  # capped exponential backoff with jitter: 1 to 2 s after a first attempt
        assert live.clock.now() + timedelta(seconds=1) <= row.next_attempt_at <= live.clock.now() + timedelta(seconds=2)
    for row in quota:  # Google asks for at least a minute over quota (issue 15)
        assert row.next_attempt_at == live.clock.now() + timedelta(seconds=60)
    live.make.deliver()
    assert len(live.fcm.calls) == 6  # not due yet: nothing resent

    live.clock.advance(seconds=2)
    live.make.deliver()
    assert sorted(r.status for r in rows(channel="push")) == ["pending"] * 2 + ["sent"] * 4
    assert len(live.fcm.calls) == 9  # the quota-limited pushes wait

    live.clock.advance(seconds=58)
    live.make.deliver()
    assert [r.status for r in rows(channel="push")] == ["sent"] * 6
    assert sorted(m["token"] for m in live.fcm.messages) == sorted(f"tok-{p.id}" for p in w["others"])
    assert len(live.fcm.calls) == 11 and live.twilio.calls == []


def test_unavailable_and_internal_are_backed_off_exponentially(live: Live) -> None:
    """FCM's 503 UNAVAILABLE and 500 INTERNAL: the outbox's backoff doubles per attempt, never sooner (issue 15)."""
    w = world(live, physicians=1, treating=False)
    for failure in (UNAVAILABLE, INTERNAL, UNAVAILABLE, INTERNAL):
        live.fcm.fail_next(1, failure)
    live.make.open(w["operator"], w["community"])
    [physician] = w["others"]
    no_jitter = 1.0  # the jitter draws its top value: the delay is the whole exponential step

    for attempt, (code, delay) in enumerate([("UNAVAILABLE", 2), ("INTERNAL", 4), ("UNAVAILABLE", 8), ("INTERNAL", 16)], 1):
        live.make.deliver(rng=lambda: no_jitter)
        [row] = rows(channel="push")
        assert (row.status, row.attempts, row.last_error) == ("pending", attempt, f"{code}=1")
        assert row.next_attempt_at == live.clock.now() + timedelta(seconds=delay)
        live.clock.advance(seconds=delay - 1)
        live.make.deliver(rng=lambda: no_jitter)  # one second early: not asked again
        assert len(live.fcm.calls) == attempt
        live.clock.advance(seconds=1)

    live.make.deliver(rng=lambda: no_jitter)
    [row] = rows(channel="push")
    assert (row.status, row.attempts) == ("sent", 5)
    assert [m["token"] for m in live.fcm.messages] == [f"tok-{physician.id}"] and live.twilio.calls == []


def test_a_push_failing_past_its_attempts_falls_back_to_an_sms(live: Live) -> None:
    live.app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    w = world(live, physicians=1, treating=False)
    [physician] = w["others"]
    live.fcm.fail_next(3, UNAVAILABLE)
    live.make.open(w["operator"], w["community"])

    for _ in range(3):
        live.make.deliver()
        live.clock.advance(seconds=10)

    [push] = rows(channel="push")
    assert (push.status, push.attempts) == ("fallback", 3)
    assert push.last_error is not None and "UNAVAILABLE" in push.last_error
    [sms] = live.twilio.messages
    assert sms.form["To"] == physician.user.phone and sms.form["Body"].startswith("SNP : demande ")
    assert live.fcm.messages == []


def test_an_offer_no_longer_open_is_never_sent(live: Live) -> None:
    w = world(live, physicians=2, treating=False)
    opened = live.make.open(w["operator"], w["community"])
    response = live.make.call("POST", f"/requests/{opened['id']}/cancel", w["operator"], json={"reason": "Doublon"})
    assert response.status_code == 200

    live.make.deliver()

    assert {r.status for r in rows(kind="offer")} == {"obsolete"}
    assert [m["data"]["type"] for m in live.fcm.messages] == ["offer_withdrawn"] * 2
    assert live.twilio.calls == []


def test_an_sms_read_timeout_is_never_repeated(live: Live) -> None:
    w = world(live, physicians=1, treating=False)
    opened = live.make.open(w["operator"], w["community"])
    live.make.deliver()
    slow = TwilioSms(live.twilio.account_sid, live.twilio.auth_token, SENDER, base_url=live.twilio.url, timeout=0.3)
    live.twilio.latency_s = 0.6
    try:
        assert live.make.accept(w["others"][0], opened["id"]).status_code == 200
        live.make.deliver(sms=slow)
        live.clock.advance(seconds=600)
        live.make.deliver(sms=slow)
    finally:
        slow.close()

    deadline = time.monotonic() + 5
    while not live.twilio.calls and time.monotonic() < deadline:  # the peer records after its latency
        time.sleep(0.05)
    [row] = rows(kind="patient_appointment")
    assert (row.status, row.attempts, row.provider_status) == ("failed", 1, "unknown")
    assert row.last_error is not None and row.last_error.startswith("ambiguous")
    assert len(live.twilio.calls) == 1  # it may well have gone: the patient must not get it twice
    events = db.session.scalars(select(Event.type).where(Event.request_id == opened["id"])).all()
    assert "patient_appointment_failed" in events
