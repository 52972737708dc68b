"""The report's calls and call-backs replayed on a generated month whose every call, request and call-back is known.

A seeded month of an operator's shifts is played through the HTTP API (calls triaged without a request, requests
opened, accepted or left to expire, call-backs recorded, relaunches), counting as it goes what the report must say;
the report is then compared with those counts, and the month before and after must be empty of them.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime
from datetime import timezone as tz
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
RESULTS = ("reoriented_sas", "reoriented_15", "advice_given", "unreachable", "relaunched")
WITHOUT = ("emergency_15", "renewal_refused", "other_orientation")


def test_a_generated_month_of_calls_requests_and_callbacks_is_reported_exactly(make: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    coordinator = make.member(community, "coordinator")
    doctors = [make.member(community, "physician") for _ in range(3)]
    rng = random.Random(2026_12)
    calls_without: Counter[str] = Counter()
    callbacks: Counter[str] = Counter()
    opened = accepted = expired = relaunches = 0

    for day in range(1, 32):
        clock.set(datetime(2026, 12, day, 8, 30, tzinfo=PARIS).astimezone(tz.utc))
        make.tokens.clear()  # each shift signs in again (yesterday's tokens have expired)
        for _ in range(rng.randint(1, 4)):
            clock.advance(minutes=rng.randint(5, 40))
            triage = rng.choices(["request", *WITHOUT], weights=[12, 1, 2, 1])[0]
            if triage != "request":
                body = {"community_id": community.id, "source": rng.choice(["cot", "sas"]), "outcome": triage}
                assert make.call("POST", "/calls", operator, json=body).status_code == 201
                calls_without[triage] += 1
                continue
            request = make.open(operator, community)
            opened += 1
            if rng.random() < 0.75:
                assert make.accept(rng.choice(doctors), request["id"]).status_code == 200
                accepted += 1
                continue
            clock.advance(hours=2, minutes=1)  # no one answered within the response window
            make.tick()
            expired += 1
            if day == 31 and rng.random() < 0.5:
                continue  # the month's last expiries are still to be called back
            result = rng.choice(RESULTS)
            response = make.call("POST", f"/requests/{request['id']}/callback", operator, json={"result": result})
            assert response.status_code == 200, response.json
            callbacks[result] += 1
            if result == "relaunched":
                relaunched = make.call("POST", f"/requests/{request['id']}/relaunch", operator)
                assert relaunched.status_code == 201, relaunched.json
                assert make.accept(rng.choice(doctors), relaunched.json["id"]).status_code == 200
                relaunches += 1
    clock.set(datetime(2027, 1, 2, 9, tzinfo=PARIS).astimezone(tz.utc))
    make.tokens.clear()

    assert opened > 50 and expired > 10 and sum(calls_without.values()) > 5 and relaunches > 0  # the draw covers the cases
    report = make.call("GET", f"/communities/{community.id}/report?from=2026-12-01&to=2026-12-31", coordinator).json
    assert report["calls"] == {
        "received": opened + sum(calls_without.values()),  # a relaunch is not a new call
        "with_request": opened,
        "without_request": {outcome: calls_without[outcome] for outcome in WITHOUT},
    }
    assert report["callbacks"] == {
        **{result: callbacks[result] for result in RESULTS},
        "pending": expired - sum(callbacks.values()),
    }
    assert report["opened"] == opened + relaunches and report["accepted"] == accepted + relaunches
    assert report["expired"] == expired

    for before_or_after in ("from=2026-11-01&to=2026-11-30", "from=2027-01-01&to=2027-01-31"):
        other = make.call("GET", f"/communities/{community.id}/report?{before_or_after}", coordinator).json
        assert other["calls"]["received"] == 0 and other["opened"] == 0
        assert sum(other["callbacks"].values()) == 0


def test_a_call_late_in_the_evening_counts_in_its_paris_day(make: Any, clock: Any) -> None:
    """A call at 23:30 in Paris on 31 December is December's, though it is 22:30 UTC; one at 00:30 on 1 January is not."""
    community = make.community()
    operator = make.member(community, "operator")
    coordinator = make.member(community, "coordinator")
    body = {"community_id": community.id, "source": "cot", "outcome": "emergency_15"}
    for at in (datetime(2026, 12, 31, 23, 30, tzinfo=PARIS), datetime(2027, 1, 1, 0, 30, tzinfo=PARIS)):
        clock.set(at.astimezone(tz.utc))
        assert make.call("POST", "/calls", operator, json=body).status_code == 201
    clock.advance(days=1)
    make.tokens.clear()
    december = make.call("GET", f"/communities/{community.id}/report?from=2026-12-01&to=2026-12-31", coordinator).json
    january = make.call("GET", f"/communities/{community.id}/report?from=2027-01-01&to=2027-01-31", coordinator).json
    assert december["calls"]["without_request"]["emergency_15"] == 1
    assert january["calls"]["without_request"]["emergency_15"] == 1
