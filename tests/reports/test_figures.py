"""The report over hand-built datasets whose every figure is known in advance."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import timezone as tz
from typing import Any

import pytest

from dispatch.reports.service import compute_report

UTC = tz.utc


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def cpts(make: Any, seed: Any) -> dict[str, Any]:
    """Eleven requests in January and February 2026 (Paris), three outside the period, one elsewhere."""
    community = make.community("CPTS Champigny")
    a = make.member(community, "physician", kind="titulaire", name="Dr Anne Arnaud")
    b = make.member(community, "physician", kind="cami", name="Dr Bruno Bernard")
    d = make.member(community, "physician", kind="remplacant", name="Dr Denis Dupont")
    make.member(community, "physician", kind="interne", name="Dr Jamais Sollicité")
    other = make.community("CPTS Voisine")
    e = make.member(other, "physician", kind="titulaire")
    r = seed.request
    r(
        community,
        at(2025, 12, 31, 23, 0),
        state="seen",
        treating=a,
        accepted_by=a,
        after_s=600,
        phase="exclusive",
        offers={a: "accepted"},
        synthesis="not_needed",
    )
    r(
        community,
        at(2026, 1, 6, 10),
        state="seen",
        treating=a,
        accepted_by=b,
        after_s=4000,
        offers={a: "refused", b: "accepted", d: "withdrawn"},
        synthesis="sent",
    )
    r(
        community,
        at(2026, 1, 7, 10),
        state="no_show",
        source="sas",
        motive="infectious",
        accepted_by=d,
        after_s=1200,
        offers={b: "withdrawn", d: "accepted"},
    )
    r(
        community,
        at(2026, 1, 20, 10),
        state="expired",
        motive="respiratory",
        treating_status="unknown",
        offers={a: "refused", b: "refused", d: "withdrawn"},
    )
    r(community, at(2026, 2, 2, 10), state="cancelled", source="sas", motive="trauma", offers={b: "withdrawn"})
    r(community, at(2026, 2, 10, 10), state="community", source="samu", motive="digestive", offers={a: "notified", b: "notified"})
    r(
        community,
        at(2026, 2, 11, 10),
        state="accepted",
        treating_status="declared",
        accepted_by=b,
        after_s=300,
        offers={a: "refused", b: "accepted"},
    )
    r(
        community,
        at(2026, 2, 12, 10),
        state="seen",
        source="pharmacy",
        motive="urinary",
        treating=a,
        accepted_by=a,
        after_s=5000,
        offers={a: "accepted", b: "withdrawn"},
        synthesis="not_needed",
    )
    r(
        community,
        at(2026, 2, 13, 10),
        state="seen",
        motive="dermatology",
        accepted_by=d,
        after_s=2000,
        offers={d: "accepted", a: "withdrawn"},
        synthesis="not_sendable",
    )
    r(
        community,
        at(2026, 2, 14, 10),
        state="seen",
        treating_status="declared",
        accepted_by=b,
        after_s=100,
        offers={b: "accepted", d: "refused"},
        synthesis="failed",
    )
    r(community, at(2026, 2, 28, 22, 59, 59), state="expired", motive="other", treating_status="unknown", offers={d: "refused"})
    # Outside the period: 31 December and 1 March in Paris, and another community.
    r(community, at(2025, 12, 31, 22, 59, 59), state="seen", accepted_by=a, after_s=10, offers={a: "accepted"}, synthesis="sent")
    r(community, at(2026, 2, 28, 23, 0), state="expired", offers={a: "refused"})
    r(other, at(2026, 1, 15, 10), state="seen", accepted_by=e, after_s=50, offers={e: "accepted"}, synthesis="sent")
    return {"community": community, "a": a, "b": b, "d": d}


def test_every_figure_of_the_hand_built_period(cpts: dict[str, Any]) -> None:
    report = compute_report(community=cpts["community"], start=date(2026, 1, 1), end=date(2026, 2, 28))
    a, b, d = cpts["a"], cpts["b"], cpts["d"]
    assert report == {
        "community_id": cpts["community"].id,
        "from": "2026-01-01",
        "to": "2026-02-28",
        "opened": 11,
        "accepted": 7,
        "expired": 2,
        "cancelled": 1,
        "open": 1,
        "acceptance_rate": 0.7,
        "accepted_by_treating": 2,
        "accepted_in_community": 5,
        "accepted_by_kind": {"titulaire": 2, "remplacant": 2, "adjoint": 0, "assistant": 0, "interne": 0, "cami": 3},
        "refusals": 6,
        # Sorted: 100 300 600 1200 2000 4000 5000; p90 at rank 5.4: 4000 + 0.4 x 1000.
        "time_to_accept_s": {"median": 1200, "p90": 4400},
        "outcomes": {"seen": 5, "no_show": 1, "pending": 1},
        "no_show_rate": 0.1667,
        "by_motive": {
            "infectious": 1,
            "ent": 4,
            "respiratory": 1,
            "trauma": 1,
            "digestive": 1,
            "dermatology": 1,
            "rheumatology": 0,
            "urinary": 1,
            "other": 1,
        },
        "by_source": {"cot": 7, "sas": 2, "samu": 1, "pharmacy": 1, "nurse": 0, "ehpad": 0, "emergency_dept": 0, "other": 0},
        # The two SAS requests (a no-show, a cancelled one) apart from the nine others.
        "by_regulation": {
            "sas": {
                "opened": 2,
                "accepted": 1,
                "expired": 0,
                "cancelled": 1,
                "open": 0,
                "seen": 0,
                "no_show": 1,
                "acceptance_rate": 1.0,
            },
            "other": {
                "opened": 9,
                "accepted": 6,
                "expired": 2,
                "cancelled": 0,
                "open": 1,
                "seen": 5,
                "no_show": 0,
                "acceptance_rate": 0.6667,
            },
        },
        "treating_physician": {"declared": 5, "none": 4, "unknown": 2},
        "syntheses": {
            "sent": 1,
            "pending": 0,
            "failed": 1,
            "delivered": 0,
            "read": 0,
            "refused": 0,
            "not_sendable": 1,
            "not_needed": 2,
        },
        "by_physician": [
            {
                "physician_id": b.id,
                "name": "Dr Bruno Bernard",
                "kind": "cami",
                "profession": "10",
                "offered": 8,
                "accepted": 3,
                "refused": 1,
                "released": 0,
            },
            {
                "physician_id": a.id,
                "name": "Dr Anne Arnaud",
                "kind": "titulaire",
                "profession": "10",
                "offered": 7,
                "accepted": 2,
                "refused": 3,
                "released": 0,
            },
            {
                "physician_id": d.id,
                "name": "Dr Denis Dupont",
                "kind": "remplacant",
                "profession": "10",
                "offered": 6,
                "accepted": 2,
                "refused": 2,
                "released": 0,
            },
        ],
        "by_month": [
            {"month": "2026-01", "opened": 4, "accepted": 3, "expired": 1, "cancelled": 0, "acceptance_rate": 0.75},
            # February's rate leaves its cancelled request out, as the period's does (4 / 6, not 4 / 7).
            {"month": "2026-02", "opened": 7, "accepted": 4, "expired": 1, "cancelled": 1, "acceptance_rate": 0.6667},
        ],
        # Physicians alone: the same figures as the totals, with the offers (8 + 7 + 6).
        "by_profession": {
            "10": {
                "opened": 11,
                "accepted": 7,
                "expired": 2,
                "cancelled": 1,
                "open": 1,
                "acceptance_rate": 0.7,
                "accepted_by_treating": 2,
                "accepted_in_community": 5,
                "outcomes": {"seen": 5, "no_show": 1, "pending": 1},
                "no_show_rate": 0.1667,
                "offered": 21,
                "refusals": 6,
                "time_to_accept_s": {"median": 1200, "p90": 4400},
            }
        },
        # No offer of these requests has a distance: every acceptance is in `unknown` (mean 13,200 / 7 s).
        "acceptance_by_distance": [
            *(
                {"band": band, "accepted": 0, "median": None, "p90": None, "mean": None}
                for band in ("0-2", "2-5", "5-10", "10-20", "20+")
            ),
            {"band": "unknown", "accepted": 7, "median": 1200, "p90": 4400, "mean": 1886},
        ],
        "calls": {
            "received": 11,
            "with_request": 11,
            "without_request": {"emergency_15": 0, "renewal_refused": 0, "other_orientation": 0},
        },
        "callbacks": {
            "reoriented_sas": 0,
            "reoriented_15": 0,
            "advice_given": 0,
            "unreachable": 0,
            "relaunched": 0,
            "pending": 2,
        },
    }


def test_a_single_day_and_the_days_around_it(cpts: dict[str, Any]) -> None:
    new_year = compute_report(community=cpts["community"], start=date(2026, 1, 1), end=date(2026, 1, 1))
    eve = compute_report(community=cpts["community"], start=date(2025, 12, 31), end=date(2025, 12, 31))
    assert (new_year["opened"], new_year["accepted_by_treating"], new_year["time_to_accept_s"]) == (
        1,
        1,
        {"median": 600, "p90": 600},
    )
    assert (eve["opened"], eve["time_to_accept_s"], eve["syntheses"]["sent"]) == (1, {"median": 10, "p90": 10}, 1)
    assert [m["month"] for m in eve["by_month"]] == ["2025-12"]


def test_an_empty_period_has_zeros_and_no_rates(cpts: dict[str, Any]) -> None:
    report = compute_report(community=cpts["community"], start=date(2026, 6, 1), end=date(2026, 7, 15))
    assert (report["opened"], report["accepted"], report["refusals"]) == (0, 0, 0)
    assert report["acceptance_rate"] is None and report["no_show_rate"] is None
    assert report["time_to_accept_s"] == {"median": None, "p90": None}
    assert report["by_physician"] == [] and set(report["accepted_by_kind"].values()) == {0}
    assert report["by_month"] == [
        {"month": "2026-06", "opened": 0, "accepted": 0, "expired": 0, "cancelled": 0, "acceptance_rate": None},
        {"month": "2026-07", "opened": 0, "accepted": 0, "expired": 0, "cancelled": 0, "acceptance_rate": None},
    ]


def test_a_community_without_physicians(make: Any, seed: Any) -> None:
    community = make.community()
    seed.request(community, at(2026, 3, 2, 9), state="expired", treating_status="unknown")
    seed.request(community, at(2026, 3, 2, 10), state="cancelled")
    seed.request(community, at(2026, 3, 2, 11), state="community")
    report = compute_report(community=community, start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert (report["opened"], report["expired"], report["cancelled"], report["open"]) == (3, 1, 1, 1)
    assert report["acceptance_rate"] == 0.0 and report["by_physician"] == [] and report["refusals"] == 0


def test_only_cancelled_requests_give_no_rate(make: Any, seed: Any) -> None:
    community = make.community()
    seed.request(community, at(2026, 3, 2, 9), state="cancelled")
    report = compute_report(community=community, start=date(2026, 3, 2), end=date(2026, 3, 2))
    assert (report["opened"], report["cancelled"], report["acceptance_rate"]) == (1, 1, None)


@pytest.mark.parametrize(
    ("day", "inside", "outside"),
    [
        # Spring forward, Sunday 29 March 2026: a day of 23 hours, 23:00 UTC the day before to 22:00 UTC.
        (
            date(2026, 3, 29),
            [at(2026, 3, 28, 23, 0), at(2026, 3, 29, 21, 59, 59)],
            [at(2026, 3, 28, 22, 59, 59), at(2026, 3, 29, 22, 0)],
        ),
        # Fall back, Sunday 25 October 2026: a day of 25 hours, 22:00 UTC the day before to 23:00 UTC.
        (
            date(2026, 10, 25),
            [at(2026, 10, 24, 22, 0), at(2026, 10, 25, 22, 59, 59)],
            [at(2026, 10, 24, 21, 59, 59), at(2026, 10, 25, 23, 0)],
        ),
    ],
)
def test_days_of_the_daylight_saving_changes(
    make: Any, seed: Any, day: date, inside: list[datetime], outside: list[datetime]
) -> None:
    community = make.community()
    for opened_at in inside:
        seed.request(community, opened_at, state="expired")
    for opened_at in outside:
        seed.request(community, opened_at, state="cancelled")
    report = compute_report(community=community, start=day, end=day)
    assert (report["opened"], report["expired"], report["cancelled"]) == (2, 2, 0)
    week = compute_report(community=community, start=day - timedelta(days=6), end=day + timedelta(days=1))
    assert (week["opened"], week["cancelled"]) == (4, 2)


def test_months_follow_paris_across_the_year_and_summer_time(make: Any, seed: Any) -> None:
    community = make.community()
    seed.request(community, at(2025, 12, 31, 23, 30), state="expired")  # 1 January, 00:30 in Paris
    seed.request(community, at(2026, 3, 31, 21, 59, 59), state="expired")  # 31 March, 23:59:59 (summer time)
    seed.request(community, at(2026, 3, 31, 22, 0), state="expired")  # 1 April, 00:00
    seed.request(community, at(2026, 10, 31, 22, 59, 59), state="expired")  # 31 October, 23:59:59 (winter time)
    seed.request(community, at(2026, 10, 31, 23, 0), state="expired")  # 1 November, 00:00
    report = compute_report(community=community, start=date(2026, 1, 1), end=date(2026, 11, 30))
    months = {m["month"]: m["opened"] for m in report["by_month"]}
    assert len(months) == 11 and report["opened"] == 5
    assert (months["2026-01"], months["2026-03"], months["2026-04"], months["2026-10"], months["2026-11"]) == (1, 1, 1, 1, 1)
    assert compute_report(community=community, start=date(2025, 12, 1), end=date(2025, 12, 31))["opened"] == 0


def test_percentiles_interpolate_between_two_durations(make: Any, seed: Any) -> None:
    community = make.community()
    physician = make.member(community, "physician")
    for after_s in (100, 301):
        seed.request(
            community, at(2026, 5, 4, 8), state="accepted", accepted_by=physician, after_s=after_s, offers={physician: "accepted"}
        )
    report = compute_report(community=community, start=date(2026, 5, 4), end=date(2026, 5, 4))
    # 200.5 rounds up to 201; 100 + 0.9 x 201 = 280.9 rounds to 281.
    assert report["time_to_accept_s"] == {"median": 201, "p90": 281}
    assert report["outcomes"] == {"seen": 0, "no_show": 0, "pending": 2}
