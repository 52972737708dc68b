"""The report and export endpoints: access, validation, and figures from a real lifecycle (exports: test_exports)."""

from __future__ import annotations

from typing import Any

import pytest

REPORT = "/communities/{}/report?from=2026-11-01&to=2026-11-30"
EXPORT = "/communities/{}/requests.csv?from=2026-11-01&to=2026-11-30"


@pytest.fixture
def staff(make: Any) -> dict[str, Any]:
    community = make.community()
    other = make.community()
    return {
        "community": community,
        "admin": make.admin(),
        "coordinator": make.member(community, "coordinator"),
        "operator": make.member(community, "operator"),
        "physician": make.member(community, "physician"),
        "stranger": make.member(other, "coordinator"),
    }


@pytest.mark.parametrize(
    ("who", "status"), [("admin", 200), ("coordinator", 200), ("stranger", 404), ("operator", 403), ("physician", 403), (None, 401)]
)
@pytest.mark.parametrize("path", [REPORT, REPORT + "&format=csv", REPORT + "&format=xlsx", EXPORT, EXPORT.replace(".csv", ".xlsx")])
def test_who_may_read_the_figures(make: Any, staff: dict[str, Any], who: str | None, status: int, path: str) -> None:
    response = make.call("GET", path.format(staff["community"].id), staff[who] if who else None)
    assert response.status_code == status, response.data
    if status != 200:
        assert response.mimetype == "application/problem+json" and response.json["status"] == status


def test_an_unknown_community_is_404_even_for_an_admin(make: Any, staff: dict[str, Any]) -> None:
    response = make.call("GET", REPORT.format(999999), staff["admin"])
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "query.from"),
        ("from=2026-11-01", "query.to"),
        ("from=01/11/2026&to=2026-11-30", "query.from"),
        ("from=2026-11-31&to=2026-12-01", "query.from"),
        ("from=2026-12-01&to=2026-11-30", "query.to"),
        ("from=2023-01-01&to=2025-12-31", "query.to"),
        ("from=0001-01-01&to=0001-01-02", "query.from"),
        ("from=2026-11-01&to=2026-11-30&format=ods", "query.format"),
        ("from=2026-11-01&to=2026-11-30&format=csv&table=all", "query.table"),
    ],
)
def test_bad_periods_are_422_field_by_field(make: Any, staff: dict[str, Any], query: str, field: str) -> None:
    response = make.call("GET", f"/communities/{staff['community'].id}/report?{query}", staff["coordinator"])
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"], response.json
    messages = [message for listed in response.json["errors"].values() for message in listed]
    assert messages and all(message[0].isupper() for message in messages)  # French sentences, not codes


def test_two_years_is_the_longest_period(make: Any, staff: dict[str, Any]) -> None:
    response = make.call("GET", f"/communities/{staff['community'].id}/report?from=2024-01-01&to=2025-12-31", staff["coordinator"])
    assert response.status_code == 200 and len(response.json["by_month"]) == 24


def test_figures_of_a_real_lifecycle(make: Any, staff: dict[str, Any], clock: Any) -> None:
    """Open through the API, accept 25 minutes later as the treating GP, record the outcome: the report follows."""
    community, operator = staff["community"], staff["operator"]
    treating, other = staff["physician"], make.member(community, "physician", kind="cami")
    first = make.open(operator, community, treating=treating)
    clock.advance(minutes=25)
    assert make.accept(treating, first["id"]).status_code == 200
    outcome = make.call(
        "POST",
        f"/requests/{first['id']}/outcome",
        treating,
        json={"outcome": "seen", "synthesis": "Otite moyenne aiguë, amoxicilline 6 jours."},
    )
    assert outcome.status_code == 200, outcome.json
    second = make.open(
        operator, community, motive="trauma", source="sas", sas_regulator={"rpps": "10000009992", "name": "Dr Régulateur"}
    )
    make.call("POST", f"/requests/{second['id']}/refuse", other, json={})
    clock.advance(hours=3)
    make.tick()
    response = make.call("GET", REPORT.format(community.id), staff["coordinator"])
    report = response.json
    assert (report["opened"], report["accepted"], report["expired"], report["accepted_by_treating"]) == (2, 1, 1, 1)
    assert report["acceptance_rate"] == 0.5 and report["time_to_accept_s"] == {"median": 1500, "p90": 1500}
    assert report["syntheses"]["not_needed"] == 1 and report["outcomes"]["seen"] == 1
    assert report["by_motive"]["trauma"] == 1 and report["by_source"]["sas"] == 1
    rows = {row["physician_id"]: row for row in report["by_physician"]}
    assert (rows[treating.id]["offered"], rows[treating.id]["accepted"]) == (2, 1)
    assert (rows[other.id]["offered"], rows[other.id]["refused"], report["refusals"]) == (1, 1, 1)
