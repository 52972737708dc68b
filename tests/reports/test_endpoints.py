"""The report and export endpoints: access, validation, CSV, and figures from a real lifecycle."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from datetime import timezone as tz
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
@pytest.mark.parametrize("path", [REPORT, REPORT + "&format=csv", EXPORT])
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
        ("from=2026-11-01&to=2026-11-30&format=xlsx", "query.format"),
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
    second = make.open(operator, community, motive="trauma", source="sas")
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


def _sections(body: str) -> list[list[list[str]]]:
    return [list(csv.reader(io.StringIO(part))) for part in body.strip().split("\r\n\r\n")]


def test_the_report_as_csv(make: Any, staff: dict[str, Any], seed: Any) -> None:
    community = staff["community"]
    formula = make.member(community, "physician", kind="remplacant", name='=HYPERLINK("http://x")')
    seed.request(
        community,
        datetime(2026, 11, 2, 9, tzinfo=tz.utc),
        state="seen",
        accepted_by=formula,
        after_s=90,
        offers={formula: "accepted"},
        synthesis="sent",
    )
    response = make.call("GET", REPORT.format(community.id) + "&format=csv", staff["coordinator"])
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="rapport-{community.id}-2026-11-01-2026-11-30.csv"'
    figures, physicians, months = _sections(response.get_data(as_text=True))
    values = dict(figures[1:])
    assert figures[0] == ["figure", "value"]
    assert (values["opened"], values["acceptance_rate"], values["no_show_rate"]) == ("1", "1.0", "0.0")
    assert (values["time_to_accept_s.median"], values["accepted_by_kind.remplacant"], values["syntheses.sent"]) == ("90", "1", "1")
    assert values["from"] == "2026-11-01" and "by_physician" not in values
    assert physicians == [
        ["physician_id", "name", "kind", "offered", "accepted", "refused"],
        [str(formula.id), '\'=HYPERLINK("http://x")', "remplacant", "1", "1", "0"],
    ]
    assert months == [["month", "opened", "accepted", "expired"], ["2026-11", "1", "1", "0"]]
    empty = make.call("GET", f"/communities/{community.id}/report?from=2026-10-01&to=2026-10-01&format=csv", staff["coordinator"])
    assert dict(_sections(empty.get_data(as_text=True))[0][1:])["acceptance_rate"] == ""


def test_the_requests_as_csv_without_patient_identity(make: Any, staff: dict[str, Any], seed: Any) -> None:
    community, physician = staff["community"], staff["physician"]
    winter = datetime(2026, 11, 2, 9, tzinfo=tz.utc)
    seen = seed.request(
        community,
        winter,
        state="seen",
        treating=physician,
        accepted_by=physician,
        after_s=61.6,
        phase="exclusive",
        offers={physician: "accepted"},
        synthesis="not_needed",
    )
    late = seed.request(
        community,
        winter + timedelta(days=28, hours=13, minutes=30),
        state="expired",
        source="sas",
        motive="trauma",
        treating_status="unknown",
    )  # 30 November, 23:30 in Paris
    seed.request(community, datetime(2026, 11, 30, 23, tzinfo=tz.utc), state="expired")  # 1 December in Paris
    response = make.call("GET", f"/communities/{community.id}/requests.csv?from=2026-11-01&to=2026-11-30", staff["coordinator"])
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="demandes-{community.id}-2026-11-01-2026-11-30.csv"'
    body = response.get_data(as_text=True)
    for identity in ("Lucie", "Martin", "+33612345678", "Dr Traitant", physician.user.name, physician.rpps):
        assert identity not in body
    rows = list(csv.reader(io.StringIO(body)))
    assert rows == [
        [
            "id",
            "opened_at",
            "opened_at_local",
            "source",
            "motive",
            "treating_status",
            "state",
            "accepted_phase",
            "accepted_by_treating",
            "accepted_by_kind",
            "seconds_to_accept",
            "outcome",
            "synthesis_status",
        ],
        [
            str(seen.id),
            "2026-11-02T09:00:00Z",
            "2026-11-02T10:00:00+01:00",
            "cot",
            "ent",
            "declared",
            "seen",
            "exclusive",
            "1",
            "titulaire",
            "62",
            "seen",
            "not_needed",
        ],
        [
            str(late.id),
            "2026-11-30T22:30:00Z",
            "2026-11-30T23:30:00+01:00",
            "sas",
            "trauma",
            "unknown",
            "expired",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
    ]
