"""Call-backs of expired requests and relaunches, through the HTTP API."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from dispatch.db import db
from dispatch.requests.models import Request


def expired_request(make: Any, clock: Any) -> tuple[Any, Any, Any, dict[str, Any]]:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    opened = make.open(operator, community, treating=gp)
    clock.advance(hours=2)
    make.tick()
    return community, operator, gp, opened


def test_callback_is_recorded_once_and_counted(make: Any, clock: Any) -> None:
    community, operator, _, opened = expired_request(make, clock)
    coordinator = make.member(community, "coordinator")
    path = f"/communities/{community.id}/report?from=2026-11-01&to=2026-11-30"
    assert make.call("GET", path, coordinator).json["callbacks"]["pending"] == 1
    response = make.call(
        "POST", f"/requests/{opened['id']}/callback", operator, json={"result": "advice_given", "note": "Conseils"}
    )
    assert response.status_code == 200, response.json
    assert response.json["callback"]["result"] == "advice_given" and response.json["state"] == "expired"
    again = make.call("POST", f"/requests/{opened['id']}/callback", operator, json={"result": "unreachable"})
    assert again.status_code == 409 and again.json["code"] == "already_recorded"
    callbacks = make.call("GET", path, coordinator).json["callbacks"]
    assert callbacks["pending"] == 0 and callbacks["advice_given"] == 1
    events = make.call("GET", f"/requests/{opened['id']}/events", operator).json
    assert any(e["type"] == "called_back" and e["data"]["note"] == "Conseils" for e in events)


def test_callback_refusals(make: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    physician = make.member(community, "physician")
    opened = make.open(operator, community)
    still = make.call("POST", f"/requests/{opened['id']}/callback", operator, json={"result": "advice_given"})
    assert still.status_code == 409 and still.json["code"] == "still_open"
    assert make.call("POST", f"/requests/{opened['id']}/callback", physician, json={"result": "advice_given"}).status_code == 403
    bad = make.call("POST", f"/requests/{opened['id']}/callback", operator, json={"result": "forgot"})
    assert bad.status_code == 422


def test_relaunch_opens_a_linked_request_offered_to_the_treating_gp_first(make: Any, clock: Any) -> None:
    community, operator, gp, opened = expired_request(make, clock)
    response = make.call("POST", f"/requests/{opened['id']}/relaunch", operator)
    assert response.status_code == 201, response.json
    new = response.json
    assert new["relaunch_of"] == opened["id"] and new["id"] != opened["id"]
    assert new["state"] == "exclusive" and new["expires_at"] == "2026-11-23T18:00:00Z"
    assert new["patient"]["last_name"] == "Martin" and new["motive"] == opened["motive"]
    first = make.call("GET", f"/requests/{opened['id']}", operator).json
    assert first["callback"]["result"] == "relaunched"
    coordinator = make.member(community, "coordinator")
    report = make.call("GET", f"/communities/{community.id}/report?from=2026-11-01&to=2026-11-30", coordinator).json
    assert report["calls"]["with_request"] == 1 and report["opened"] == 2  # a relaunch is not a new call
    still = make.call("POST", f"/requests/{new['id']}/relaunch", operator)
    assert still.status_code == 409 and still.json["code"] == "still_open"


def test_a_request_is_relaunched_at_most_once_and_a_second_relaunch_names_the_first(make: Any, clock: Any) -> None:
    community, operator, gp, opened = expired_request(make, clock)
    other_console = make.member(community, "operator")
    first = make.call("POST", f"/requests/{opened['id']}/relaunch", operator)
    assert first.status_code == 201, first.json
    again = make.call("POST", f"/requests/{opened['id']}/relaunch", other_console)
    assert again.status_code == 409 and again.json["code"] == "already_relaunched"
    assert again.json["relaunched_as"] == first.json["id"]
    assert again.headers["Content-Type"] == "application/problem+json"
    relaunches = db.session.scalars(select(Request.id).where(Request.relaunch_of_id == opened["id"])).all()
    assert relaunches == [first.json["id"]]


def test_two_consoles_relaunching_at_the_same_instant_make_one_request(make: Any, app: Any, clock: Any) -> None:
    """The unique key decides a true race (PostgreSQL runs both at once; SQLite one after the other)."""
    community, operator, gp, opened = expired_request(make, clock)
    consoles = [operator, make.member(community, "operator")]
    headers = [make.headers(who) for who in consoles]
    barrier = threading.Barrier(2)
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def press(index: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/requests/{opened['id']}/relaunch", headers=headers[index])
        with lock:
            answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=press, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(status for status, _ in answers) == [201, 409], answers
    created = next(body for status, body in answers if status == 201)
    refused = next(body for status, body in answers if status == 409)
    assert refused["code"] == "already_relaunched" and refused["relaunched_as"] == created["id"]
    assert db.session.scalars(select(Request.id).where(Request.relaunch_of_id == opened["id"])).all() == [created["id"]]
