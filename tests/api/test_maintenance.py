"""Maintenance (issue 24, point 5): while on, the API answers 503 but its health, the pages say so, no deadline passes
and no message leaves; at its end every open request gets the time lost back (an event says so), and an offer that
could not leave before its request's deadline is recorded expired, never sent late."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dispatch import maintenance
from dispatch.db import db
from dispatch.events import Event
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import DeliveryResult, Outcome, PushMessage, PushResult
from dispatch.requests import machine, outage
from dispatch.requests.models import OfferLink, Request
from tests.conftest import T0


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _start(clock: Any, reason: str | None = "mise à jour") -> maintenance.State:
    return maintenance.start(now=clock.now(), by="test@machine", reason=reason)


def _events(request_id: int, type_: str) -> list[Event]:
    return list(db.session.scalars(select(Event).where(Event.request_id == request_id, Event.type == type_).order_by(Event.id)))


# -- The machine: exact instants.


def test_postpone_moves_the_live_deadlines_by_the_time_lost() -> None:
    shot = machine.Snapshot(state="exclusive", exclusive_until=T0 + timedelta(hours=1), expires_at=T0 + timedelta(hours=2))
    decision = machine.postpone(shot, by=timedelta(hours=2), reason="maintenance")
    assert decision is not None
    assert (decision.state, decision.exclusive_until, decision.expires_at) == (
        "exclusive",
        T0 + timedelta(hours=3),
        T0 + timedelta(hours=4),
    )
    assert decision.next_deadline == T0 + timedelta(hours=3)
    [event] = decision.events
    assert (event.type, event.data["by_s"], event.data["reason"]) == ("deadlines_moved", 7200, "maintenance")
    assert decision.effects == (machine.ExtendLinks(T0 + timedelta(hours=4)),)
    # The community phase: its exclusive hour is history and keeps its date.
    community = machine.Snapshot(state="community", exclusive_until=T0, expires_at=T0 + timedelta(hours=2))
    moved = machine.postpone(community, by=timedelta(seconds=1), reason="maintenance")
    assert moved is not None and (moved.exclusive_until, moved.expires_at) == (T0, T0 + timedelta(hours=2, seconds=1))
    closed = machine.Snapshot(state="accepted", exclusive_until=None, expires_at=T0)
    assert machine.postpone(closed, by=timedelta(hours=1), reason="maintenance") is None
    assert machine.postpone(shot, by=timedelta(0), reason="maintenance") is None


def test_the_time_lost_is_counted_in_whole_seconds_rounded_up() -> None:
    assert outage.lost(T0, T0 + timedelta(hours=2)) == timedelta(hours=2)
    assert outage.lost(T0, T0 + timedelta(hours=2, microseconds=1)) == timedelta(hours=2, seconds=1)
    assert outage.lost(T0, T0) == timedelta(0)


# -- Deadlines: none passes during a maintenance, each is moved at its end.


def test_a_request_with_ten_minutes_left_still_has_them_after_two_hours_of_maintenance(make: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    opened = make.open(operator, community)  # no treating GP: the community phase, two hours
    assert _at(opened["expires_at"]) == T0 + timedelta(hours=2)
    clock.advance(hours=1, minutes=50)  # 10 minutes left
    _start(clock)
    started = clock.now()
    for _ in range(4):  # two hours of maintenance: the tick runs and moves nothing, not even past the expiry
        clock.advance(minutes=30)
        assert make.tick() == 0
    assert db.session.get(Request, opened["id"], populate_existing=True).state == "community"

    ended = outage.end_maintenance(now=clock.now())
    assert (ended.since, ended.by, ended.moved, ended.was_on) == (started, timedelta(hours=2), 1, True)
    request = db.session.get(Request, opened["id"], populate_existing=True)
    assert request.expires_at == clock.now() + timedelta(minutes=10) == T0 + timedelta(hours=4)
    assert request.next_deadline == request.expires_at
    [event] = _events(opened["id"], "deadlines_moved")
    assert event.at == clock.now() and event.actor_role == "system" and event.client == "maintenance"
    assert event.data == {"by_s": 7200, "reason": "maintenance", "exclusive_until": None, "expires_at": "2026-11-23T18:00:00Z"}
    assert maintenance.current() is None

    clock.advance(minutes=9, seconds=59)
    assert make.tick() == 0
    clock.advance(seconds=1)  # T0 + 4 h: the ten minutes are over
    assert make.tick() == 1
    assert db.session.get(Request, opened["id"], populate_existing=True).state == "expired"
    trail = [e["type"] for e in make.call("GET", f"/requests/{opened['id']}/events", operator).json]
    assert trail == ["expired", "deadlines_moved", "opened"]  # newest first


def test_the_treating_gps_hour_and_the_expiry_both_move(make: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    opened = make.open(operator, community, treating=gp)
    assert opened["state"] == "exclusive"
    clock.advance(minutes=50)
    _start(clock)
    clock.advance(hours=2)
    assert make.tick() == 0  # the hour ended during the maintenance: it does not pass
    outage.end_maintenance(now=clock.now())
    request = db.session.get(Request, opened["id"], populate_existing=True)
    assert (request.state, request.exclusive_until, request.expires_at) == (
        "exclusive",
        T0 + timedelta(hours=3),
        T0 + timedelta(hours=4),
    )
    clock.set(T0 + timedelta(hours=3) - timedelta(seconds=1))
    assert make.tick() == 0
    clock.set(T0 + timedelta(hours=3))
    assert make.tick() == 1
    assert db.session.get(Request, opened["id"], populate_existing=True).state == "community"


def test_closed_requests_keep_their_dates_and_ending_twice_is_refused(make: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    doctor = make.member(community, "physician")
    taken = make.open(operator, community)
    assert make.accept(doctor, taken["id"], minutes=30).status_code == 200
    _start(clock)
    clock.advance(hours=1)
    assert outage.end_maintenance(now=clock.now()).moved == 0
    request = db.session.get(Request, taken["id"], populate_existing=True)
    assert request.state == "accepted" and request.expires_at == T0 + timedelta(hours=2)
    assert request.appointment_at == T0 + timedelta(minutes=30)  # an appointment is not a deadline
    with pytest.raises(outage.NotInMaintenance):
        outage.end_maintenance(now=clock.now())


def test_after_a_restore_without_maintenance_the_time_lost_is_given_back_from_since(make: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    opened = make.open(operator, community)
    outage_began = T0 + timedelta(minutes=30)
    clock.set(T0 + timedelta(hours=3))  # restored from a backup taken at T0 + 30 min; the workers not started yet
    later = make.open(operator, community)  # opened after the restore: it lost nothing
    ended = outage.end_maintenance(now=clock.now(), since=outage_began)
    assert (ended.by, ended.moved, ended.was_on) == (timedelta(hours=2, minutes=30), 1, False)
    assert db.session.get(Request, opened["id"], populate_existing=True).expires_at == T0 + timedelta(hours=4, minutes=30)
    assert db.session.get(Request, later["id"], populate_existing=True).expires_at == clock.now() + timedelta(hours=2)
    with pytest.raises(outage.SinceInFuture):
        outage.end_maintenance(now=clock.now(), since=clock.now() + timedelta(seconds=1))


def test_a_maintenance_is_started_once(app: Any, clock: Any) -> None:
    first = _start(clock)
    clock.advance(minutes=1)
    with pytest.raises(maintenance.AlreadyOn) as raised:
        _start(clock, reason="autre")
    assert raised.value.state == first
    assert maintenance.current() == maintenance.State(T0, "test@machine", "mise à jour")


# -- The edges: the API answers 503 but its health, the pages say so.


def test_the_api_answers_503_with_retry_after_but_its_health(make: Any, client: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    headers = make.headers(operator)  # signed in before the maintenance
    _start(clock)
    for method, path in (("GET", "/api/v1/me"), ("POST", "/api/v1/requests"), ("POST", "/api/v1/auth/token")):
        response = client.open(path, method=method, headers=headers, json={})
        assert response.status_code == 503, path
        assert response.headers["Retry-After"] == "30"
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert body["code"] == "maintenance" and body["title"] == "Maintenance en cours"
        assert body["detail"].startswith("Le service est en maintenance")
        assert body["maintenance_since"] == "2026-11-23T14:00:00Z"
    assert client.get("/api/v1/healthz").status_code == 200
    engine = client.get("/api/v1/health/engine")
    assert engine.status_code == 503 and engine.get_json()["status"] == "maintenance"
    clock.advance(minutes=5)
    outage.end_maintenance(now=clock.now())  # this process's cache is dropped at once
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_every_page_shows_the_maintenance_page(make: Any, client: Any, clock: Any) -> None:
    community = make.community()
    doctor = make.member(community, "physician")
    _start(clock, reason="restauration de la base")
    for path in ("/connexion", "/m/", "/console", "/pilotage", "/"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.headers["Retry-After"] == "30" and response.headers["Refresh"] == "30"
        page = response.get_data(as_text=True)
        assert "Le service est en maintenance" in page and "restauration de la base" in page
        assert "prolongés de sa durée" in page
    posted = client.post("/connexion", data={"login": doctor.user.login, "password": "x"})
    assert posted.status_code == 503
    scripted = client.get("/m/", headers={"Accept": "application/json"})
    assert scripted.status_code == 503 and scripted.get_json()["code"] == "maintenance"
    assert client.get("/m/sw.js").status_code == 200  # the installable app keeps its worker and offline shell
    assert client.get("/m/offline").status_code == 200
    maintenance.clear()
    db.session.commit()
    maintenance.forget()
    assert client.get("/connexion").status_code == 200


def test_a_web_process_reads_the_flag_at_most_once_a_second(app: Any, client: Any, clock: Any, monkeypatch: Any) -> None:
    ticks = iter([100.0, 100.5, 101.0, 101.2])
    monkeypatch.setattr(maintenance.clock, "monotonic", lambda: next(ticks))
    maintenance.forget()
    assert client.get("/api/v1/me").status_code == 401  # read at 100.0: off
    maintenance.start(now=clock.now(), by="another process", reason=None)  # as if another process: keep the cache
    app.extensions["dispatch.maintenance"].read_at = 100.0
    assert client.get("/api/v1/me").status_code == 401  # 100.5: the cached reading
    assert client.get("/api/v1/me").status_code == 503  # 101.0: read again
    assert client.get("/api/v1/me").status_code == 503


# -- Messages: held during the maintenance, never sent late.


def test_the_sender_holds_offers_during_the_maintenance_and_they_announce_the_moved_deadline(
    make: Any, clock: Any, ports: Any
) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    doctor = make.member(community, "physician")
    make.device(doctor)
    opened = make.open(operator, community)  # its offer is written, not sent yet: the maintenance starts
    clock.advance(minutes=10)
    _start(clock)
    clock.advance(hours=2)
    assert make.deliver() == 0 and ports["push"].sent == []
    pending = db.session.scalars(select(OutboxMessage).where(OutboxMessage.request_id == opened["id"])).all()
    assert [m.status for m in pending] == ["pending"]
    outage.end_maintenance(now=clock.now())
    make.deliver()
    [push] = [m for m in ports["push"].sent if isinstance(m, PushMessage)]
    assert push.data["type"] == "offer" and push.data["expires_at"] == "2026-11-23T18:00:00Z"
    assert push.expires_at == T0 + timedelta(hours=4)  # the push's TTL too


def test_a_pending_push_for_a_request_that_expired_is_not_sent_and_is_recorded_expired(make: Any, clock: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    doctors = [make.member(community, "physician") for _ in range(3)]
    for doctor in doctors:
        make.device(doctor)
    opened = make.open(operator, community)
    clock.advance(hours=2)  # the senders were down the whole time; the tick alone ran
    assert make.tick() == 1
    make.deliver()
    offers = [m for m in ports["push"].sent if m.data["type"] == "offer"]
    assert offers == []
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.request_id == opened["id"])).all()
    by_kind = {(m.kind, m.status) for m in rows}
    assert ("offer", "expired") in by_kind and ("offer", "sent") not in by_kind
    assert all(m.sent_at is None for m in rows if m.kind == "offer")
    [event] = _events(opened["id"], "offer_expired")
    assert event.data == {"channel": "push", "count": 3}


def test_a_push_past_its_requests_expiry_is_expired_even_before_the_tick_moved_it(make: Any, clock: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    doctor = make.member(community, "physician")
    make.device(doctor)
    opened = make.open(operator, community)
    clock.advance(hours=2)  # the expiry has come; no tick yet
    make.deliver()
    assert [m for m in ports["push"].sent if m.data["type"] == "offer"] == []
    [row] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.request_id == opened["id"])).all()
    assert row.status == "expired"


def test_an_offer_taken_before_it_left_is_still_obsolete(make: Any, clock: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    first, second = make.member(community, "physician"), make.member(community, "physician")
    make.device(second)
    opened = make.open(operator, community)
    assert make.accept(first, opened["id"], minutes=30).status_code == 200
    make.deliver()
    statuses = {
        m.status
        for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "offer", OutboxMessage.physician_id == second.id)
        )
    }
    assert statuses == {"obsolete"}
    assert _events(opened["id"], "offer_expired") == []


def test_an_offers_sms_fallback_that_could_not_leave_in_time_is_expired(make: Any, clock: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    doctor = make.member(community, "physician")
    make.device(doctor)
    opened = make.open(operator, community)
    # The push fails for good: its SMS fallback is queued; the SMS service times out, to be retried later.
    ports["push"].script.append(PushResult(outcome=Outcome.PERMANENT, detail="refused"))
    ports["sms"].script.append(DeliveryResult(outcome=Outcome.TRANSIENT, detail="503"))
    make.deliver()
    [sms] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "offer_sms")).all()
    assert sms.status == "pending" and sms.payload["offer"] is True
    link = db.session.scalars(select(OfferLink).where(OfferLink.request_id == opened["id"])).one()
    assert link.expires_at == T0 + timedelta(hours=2)
    # A maintenance of one hour: the link the SMS carries follows the request's new expiry.
    _start(clock)
    clock.advance(hours=1)
    outage.end_maintenance(now=clock.now())
    db.session.refresh(link)
    assert link.expires_at == T0 + timedelta(hours=3)
    clock.set(T0 + timedelta(hours=3))  # then the SMS service stays down until the new expiry
    sent_before = len(ports["sms"].sent)
    make.deliver()
    db.session.refresh(sms)
    assert sms.status == "expired" and sms.sent_at is None and len(ports["sms"].sent) == sent_before
    assert "link" not in sms.payload or "/l/" not in str(sms.payload.get("body"))  # no usable secret kept
    [event] = _events(opened["id"], "offer_sms_expired")
    assert event.data == {"channel": "sms", "count": 1, "physician_id": doctor.id}
