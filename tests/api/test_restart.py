"""The database is the timer: a restart loses nothing, and overdue transitions happen on the first tick."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from dispatch import create_app
from dispatch.notify.inbox import Recorder
from dispatch.notify.ports import PushMessage
from dispatch.runtime import Ports
from dispatch.worker import Worker
from tests.conftest import TEST_SETTINGS


def test_restart_after_the_deadline_escalates_once_on_the_first_tick(make: Any, app: Any, clock: Any, database_url: str) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    members = [make.member(community, "physician") for _ in range(3)]
    for physician in [gp, *members]:
        make.device(physician)
    opened = make.open(operator, community, treating=gp)
    assert opened["state"] == "exclusive"
    make.deliver()  # the treating GP's phone rang, then the service went down
    # The service is down: nothing ticks. Time passes beyond the exclusive hour.
    clock.advance(seconds=3600 + 25 * 60)

    pushes = Recorder()
    restarted = create_app(
        {**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url},
        clock=clock,
        ports=Ports(push=pushes, sms=Recorder(), mail=Recorder()),
    )
    worker = Worker(restarted, tick_s=0.2, safety_s=0.2)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            offers = [m for m in pushes.sent if isinstance(m, PushMessage) and m.data["type"] == "offer"]
            if len(offers) >= 3:
                break
            time.sleep(0.05)
        time.sleep(1.0)  # several more ticks and drains: nothing more must happen
    finally:
        worker.stop()
        with restarted.app_context():
            from dispatch.db import db

            for engine in db.engines.values():
                engine.dispose()
    offers = [m for m in pushes.sent if isinstance(m, PushMessage) and m.data["type"] == "offer"]
    per_device = Counter(token for m in offers for token in m.tokens)
    assert len(per_device) == 3 and set(per_device.values()) == {1}, per_device
    assert {m.data["phase"] for m in offers} == {"community"}
    view = make.call("GET", f"/requests/{opened['id']}", operator).json
    assert view["state"] == "community"
    events = [e["type"] for e in make.call("GET", f"/requests/{opened['id']}/events", operator).json]
    assert events.count("community_opened") == 1


def test_an_offer_sent_after_its_phase_ended_announces_the_current_phase(make: Any, clock: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    make.device(gp)
    opened = make.open(operator, community, treating=gp)
    clock.advance(seconds=3600 + 60)  # the sender was down during the whole exclusive hour
    make.tick()
    make.deliver()
    offers = [m for m in ports["push"].sent if m.data["request_id"] == str(opened["id"])]
    assert len(offers) == 1
    assert offers[0].data["phase"] == "community" and offers[0].data["expires_at"] == opened["expires_at"]


def test_the_tick_is_on_time_for_a_deadline_between_two_interval_ticks(make: Any, clock: Any, database_url: str) -> None:
    community = make.community(exclusive=1, response=120)
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    opened = make.open(operator, community, treating=gp)  # exclusive for one second
    restarted = create_app(
        {**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url},
        clock=clock,
        ports=Ports(push=Recorder(), sms=Recorder(), mail=Recorder()),
    )
    worker = Worker(restarted, tick_s=30, safety_s=30)  # the interval alone would be 30 s late
    started = time.monotonic()
    worker.start()
    try:
        time.sleep(0.3)
        clock.advance(seconds=1)  # the (fake) deadline passes while the worker waits for the real one
        state = "exclusive"
        while state == "exclusive" and time.monotonic() - started < 10:
            time.sleep(0.05)
            state = make.call("GET", f"/requests/{opened['id']}", operator).json["state"]
        elapsed = time.monotonic() - started
    finally:
        worker.stop()
        with restarted.app_context():
            from dispatch.db import db

            for engine in db.engines.values():
                engine.dispose()
    assert state == "community"
    assert elapsed < 5, elapsed
