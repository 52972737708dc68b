"""Calls triaged without a request (POST /calls), and the report's `calls`."""

from __future__ import annotations

from typing import Any


def test_operator_records_calls_and_the_report_counts_them(make: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    coordinator = make.member(community, "coordinator")
    body = {"community_id": community.id, "source": "cot", "outcome": "emergency_15", "motive": "respiratory"}
    response = make.call("POST", "/calls", operator, json=body)
    assert response.status_code == 201, response.json
    assert response.json["outcome"] == "emergency_15" and response.json["received_at"] == "2026-11-23T14:00:00Z"
    keyed = {"headers": {"Idempotency-Key": "k1"}}
    first = make.call("POST", "/calls", operator, json={**body, "outcome": "renewal_refused"}, **keyed)
    again = make.call("POST", "/calls", operator, json={**body, "outcome": "renewal_refused"}, **keyed)
    assert (first.status_code, again.status_code, again.json["id"]) == (201, 200, first.json["id"])
    other = make.call(
        "POST", "/calls", operator, json={"community_id": community.id, "source": "sas", "outcome": "other_orientation"}
    )
    assert other.status_code == 201 and other.json["motive"] is None
    make.open(operator, community)

    report = make.call("GET", f"/communities/{community.id}/report?from=2026-11-01&to=2026-11-30", coordinator).json
    assert report["calls"] == {
        "received": 4,
        "with_request": 1,
        "without_request": {"emergency_15": 1, "renewal_refused": 1, "other_orientation": 1},
    }


def test_calls_are_for_the_community_operators_with_valid_fields(make: Any) -> None:
    community, elsewhere = make.community(), make.community()
    operator = make.member(community, "operator")
    stranger = make.member(elsewhere, "operator")
    coordinator = make.member(community, "coordinator")
    body = {"community_id": community.id, "source": "cot", "outcome": "emergency_15"}
    assert make.call("POST", "/calls", coordinator, json=body).status_code == 403
    assert make.call("POST", "/calls", stranger, json=body).status_code == 422
    bad = make.call("POST", "/calls", operator, json={**body, "outcome": "lost", "source": "x"})
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"outcome", "source"}
