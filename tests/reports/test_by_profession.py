"""The report per profession and per distance band, from requests of two professions made through the real use cases,
compared with a recount (GROUP BY) — on SQLite, and on PostgreSQL with DISPATCH_TEST_DATABASE_URL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import and_, func, select

from dispatch.db import db
from dispatch.french import duration, number, percent
from dispatch.reports.per_profession import band_of, percentiles
from dispatch.requests.models import Offer, Request
from tests.api.test_rules import north, place_patient
from tests.reports.test_pdf import PDF, flat, words


def refuse(make: Any, who: Any, request_id: int) -> None:
    assert make.call("POST", f"/requests/{request_id}/refuse", who, json={"reason": "Complet"}).status_code == 200


def nurse_request(make: Any, operator: Any, community: Any, usual: Any = None) -> dict[str, Any]:
    body = make.request_body(community, profession="60", acts=["pansement"])
    del body["treating_physician"], body["motive"]
    body["usual_professional"] = {"status": "declared", "rpps": usual.rpps} if usual is not None else {"status": "none"}
    response = make.call("POST", "/requests", operator, json=body)
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


@pytest.fixture
def report(make: Any, clock: Any) -> tuple[Any, dict[str, Any]]:
    return two_professions(make, clock)


def two_professions(make: Any, clock: Any) -> tuple[Any, dict[str, Any]]:
    """Open, refuse, accept and cancel requests of physicians and nurses through the API; return the day's report."""
    community = make.community()
    operator, coordinator = make.member(community, "operator"), make.member(community, "coordinator")
    gp = make.member(community, "physician", **north(0.5))
    near, farther = make.member(community, "physician", **north(1)), make.member(community, "physician", **north(3))
    unplaced = make.member(community, "physician")
    usual = make.member(community, "physician", profession="60", kind="titulaire", **north(1))
    nurse = make.member(community, "physician", profession="60", kind="titulaire", **north(7))
    make.member(community, "physician", profession="60", kind="titulaire", **north(25))  # beyond the wave: never offered

    def placed_then_refused(opened: dict[str, Any], treating: Any) -> int:
        place_patient(opened["id"], *north(0).values())
        clock.advance(minutes=5)
        refuse(make, treating, opened["id"])
        return int(opened["id"])

    r1 = placed_then_refused(make.open(operator, community, treating=gp), gp)
    clock.advance(minutes=10)
    assert make.accept(farther, r1, minutes=60).status_code == 200  # 2-5 km, 15 min
    r2 = make.open(operator, community, treating=gp)["id"]
    clock.advance(minutes=2)
    assert make.accept(gp, r2, minutes=60).status_code == 200  # the exclusive offer: distance unknown, 2 min
    r3 = placed_then_refused(make.open(operator, community, treating=gp), gp)
    clock.advance(minutes=15)
    assert make.accept(near, r3, minutes=60).status_code == 200  # 0-2 km, 20 min
    r4 = make.open(operator, community)["id"]  # not placed: everyone, no distance
    clock.advance(minutes=30)
    assert make.accept(unplaced, r4, minutes=60).status_code == 200  # unknown, 30 min
    cancelled = make.open(operator, community)["id"]
    assert make.call("POST", f"/requests/{cancelled}/cancel", operator, json={"reason": "Doublon"}).status_code == 200
    n1 = placed_then_refused(nurse_request(make, operator, community, usual), usual)
    clock.advance(minutes=35)
    assert make.accept(nurse, n1, minutes=60).status_code == 200  # 5-10 km, 40 min
    nurse_request(make, operator, community)  # still open
    answer = make.call("GET", f"/communities/{community.id}/report?from=2026-11-23&to=2026-11-23", coordinator)
    assert answer.status_code == 200, answer.json
    return community, answer.json


def recount(community_id: int) -> dict[str, dict[str, int]]:
    """Count the requests per profession and state, and the acceptances by the treating one, by GROUP BY."""
    out: dict[str, dict[str, int]] = {}
    by_treating = func.sum(func.coalesce(func.cast(and_(Request.accepted_by_id == Request.treating_physician_id), db.Integer), 0))
    rows = db.session.execute(
        select(Request.profession, Request.state, func.count(), by_treating)
        .where(Request.community_id == community_id)
        .group_by(Request.profession, Request.state)
    )
    for profession, state, n, treating in rows:
        row = out.setdefault(profession, {"by_treating": 0})
        row[state] = int(n)
        row["by_treating"] += int(treating or 0)
    return out


def test_the_figures_per_profession_are_the_recount(report: tuple[Any, dict[str, Any]]) -> None:
    community, figures = report
    counted = recount(community.id)
    assert set(figures["by_profession"]) == set(counted) == {"10", "60"}
    for profession, mine in counted.items():
        got = figures["by_profession"][profession]
        accepted = sum(mine.get(state, 0) for state in ("accepted", "seen", "no_show"))
        assert got["opened"] == sum(n for key, n in mine.items() if key != "by_treating")
        assert got["accepted"] == accepted and got["outcomes"]["pending"] == mine.get("accepted", 0)
        assert got["cancelled"] == mine.get("cancelled", 0) and got["expired"] == mine.get("expired", 0)
        assert got["open"] == mine.get("community", 0) + mine.get("exclusive", 0)
        assert got["accepted_by_treating"] == mine["by_treating"]
    physicians, nurses = figures["by_profession"]["10"], figures["by_profession"]["60"]
    assert (physicians["opened"], physicians["accepted"], physicians["cancelled"], physicians["accepted_by_treating"]) == (
        5,
        4,
        1,
        1,
    )
    assert physicians["acceptance_rate"] == 1.0 and physicians["time_to_accept_s"] == {
        "median": 1050,
        "p90": 1620,
    }  # 120, 900, 1200, 1800 s
    assert physicians["refusals"] == 2  # the GP, twice
    assert (nurses["opened"], nurses["accepted"], nurses["open"], nurses["refusals"]) == (2, 1, 1, 1)
    assert nurses["acceptance_rate"] == 0.5 and nurses["time_to_accept_s"] == {"median": 2400, "p90": 2400}
    # The totals are the sum of the professions.
    for key in ("opened", "accepted", "cancelled", "open", "accepted_by_treating", "refusals"):
        assert figures[key] == physicians[key] + nurses[key]
    # The physicians' statuses (titulaire, CAMI...) count the physicians' acceptances only: a nurse has none.
    assert sum(figures["accepted_by_kind"].values()) == physicians["accepted"]


def test_the_acceptance_time_per_distance_band_is_the_recount(report: tuple[Any, dict[str, Any]]) -> None:
    community, figures = report
    rows = db.session.execute(
        select(Offer.distance_km, Request.accept_delay_us)
        .join(Offer, and_(Offer.request_id == Request.id, Offer.physician_id == Request.accepted_by_id))
        .where(Request.community_id == community.id, Request.accept_delay_us.is_not(None))
    ).all()
    per_band: dict[str, list[int]] = {}
    for distance, delay in rows:
        per_band.setdefault(band_of(distance), []).append(int(delay))
    bands = {row["band"]: row for row in figures["acceptance_by_distance"]}
    assert list(bands) == ["0-2", "2-5", "5-10", "10-20", "20+", "unknown"]
    for band, row in bands.items():
        delays = per_band.get(band, [])
        assert row["accepted"] == len(delays)
        assert {"median": row["median"], "p90": row["p90"]} == percentiles(delays)
    assert (bands["0-2"]["median"], bands["2-5"]["median"], bands["5-10"]["median"]) == (1200, 900, 2400)
    assert bands["unknown"]["accepted"] == 2 and bands["unknown"]["mean"] == (120 + 1800) // 2
    assert bands["10-20"] == {"band": "10-20", "accepted": 0, "median": None, "p90": None, "mean": None}


@pytest.mark.parametrize(
    ("km", "band"), [(None, "unknown"), (0.0, "0-2"), (1.999, "0-2"), (2.0, "2-5"), (9.999, "5-10"), (10.0, "10-20"), (20.0, "20+")]
)
def test_bands_include_their_lower_bound(km: float | None, band: str) -> None:
    assert band_of(km) == band


def test_the_pdf_has_the_section(report: tuple[Any, dict[str, Any]], make: Any) -> None:
    community, figures = report
    coordinator = make.member(community, "coordinator")
    response = make.call("GET", PDF.format(community.id, "2026-11-23", "2026-11-23"), coordinator)
    assert response.status_code == 200
    text = words(response.data)
    nurses = figures["by_profession"]["60"]
    line = ["Infirmier", number(nurses["opened"]), number(nurses["accepted"]), percent(nurses["acceptance_rate"])]
    assert flat("Par profession") in text and flat(" ".join(line)) in text
    assert flat("Délai d'acceptation selon la distance") in text
    assert flat(f"De 5 à 10\u00a0km 1 {duration(2400)}") in text
