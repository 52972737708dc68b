"""The report's copies kept by the services equal a recomputation from the offers, and the backfill's."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from dispatch.db import db
from dispatch.notify.ports import DeliveryResult, Outcome
from dispatch.reports.models import PhysicianDayStats, RequestDayStats
from dispatch.reports.service import compute_report
from dispatch.requests.models import Offer, Request, Synthesis
from dispatch.requests.rollup import GROUP, delay_us
from dispatch.requests.rollup_backfill import backfill


def _rollup() -> dict[tuple[int, int, date], tuple[int, int, int]]:
    rows = db.session.scalars(select(PhysicianDayStats))
    return {(r.community_id, r.physician_id, r.day): (r.offered, r.accepted, r.refused) for r in rows}


def _recomputed() -> dict[tuple[int, int, date], tuple[int, int, int]]:
    """Count the offers again, per physician and local day of the request, from the offers themselves."""
    counts: Counter[tuple[tuple[int, int, date], str]] = Counter()
    for offer, request in db.session.execute(select(Offer, Request).join(Request, Request.id == Offer.request_id)):
        day = request.opened_at.astimezone(ZoneInfo(request.community.timezone)).date()
        key = (request.community_id, offer.physician_id, day)
        counts[key, "offered"] += 1
        counts[key, offer.status] += 1
    return {
        key: (counts[key, "offered"], counts[key, "accepted"], counts[key, "refused"]) for key, kind in counts if kind == "offered"
    }


def _columns() -> dict[int, tuple[int | None, str | None]]:
    return {r.id: (r.accept_delay_us, r.synthesis_status) for r in db.session.scalars(select(Request))}


def test_the_rollup_follows_a_mixed_lifecycle_and_the_backfill_agrees(make: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician", name="Dr Paul Durand")
    o0, o1, o2 = (make.member(community, "physician", kind=kind) for kind in ("cami", "titulaire", "remplacant"))

    def post(path: str, who: Any, **body: Any) -> None:
        response = make.call("POST", path, who, json=body)
        assert response.status_code == 200, response.json

    # 1: the GP refuses, the community opens, o0 refuses then accepts; seen, synthesis mailed.
    first = make.open(operator, community, treating=gp)["id"]
    post(f"/requests/{first}/refuse", gp, reason="Cabinet complet")
    post(f"/requests/{first}/refuse", o0)
    clock.advance(seconds=75, microseconds=250_001)
    assert make.accept(o0, first).status_code == 200
    post(f"/requests/{first}/outcome", o0, outcome="seen", synthesis="Otite, amoxicilline.")
    make.deliver()
    # 2: o1 refuses, then it expires. 3: cancelled. 4: the GP takes it in the exclusive hour; no-show.
    second = make.open(operator, community)["id"]
    post(f"/requests/{second}/refuse", o1)
    third = make.open(operator, community)["id"]
    post(f"/requests/{third}/cancel", operator, reason="Patient rappelé")
    fourth = make.open(operator, community, treating=gp)["id"]
    clock.advance(seconds=600)
    assert make.accept(gp, fourth).status_code == 200
    post(f"/requests/{fourth}/outcome", gp, outcome="no_show")
    clock.advance(hours=3)
    assert make.tick() == 1
    # 5: opened at 23:30 UTC, 00:30 the next day in Paris; o2 refuses, it stays open.
    clock.advance(seconds=(23 * 60 + 30) * 60 - clock.now().hour * 3600 - clock.now().minute * 60 - clock.now().second)
    fifth = make.open(operator, community)["id"]
    post(f"/requests/{fifth}/refuse", o2)
    db.session.expire_all()

    live = _rollup()
    assert live == _recomputed()
    today, tomorrow = date(2026, 11, 23), date(2026, 11, 24)
    cid = community.id
    assert live == {
        (cid, gp.id, today): (4, 1, 1),
        (cid, o0.id, today): (3, 1, 0),
        (cid, o1.id, today): (3, 0, 1),
        (cid, o2.id, today): (3, 0, 0),
        (cid, gp.id, tomorrow): (1, 0, 0),
        (cid, o0.id, tomorrow): (1, 0, 0),
        (cid, o1.id, tomorrow): (1, 0, 0),
        (cid, o2.id, tomorrow): (1, 0, 1),
    }
    columns = _columns()
    requests = {r.id: r for r in db.session.scalars(select(Request))}
    assert columns[first] == (75_250_001, "sent") and columns[fourth] == (600_000_000, None)
    assert columns[second] == columns[third] == columns[fifth] == (None, None)
    assert all(
        delay == (delay_us(requests[i].opened_at, requests[i].accepted_at) if requests[i].accepted_at else None)
        for i, (delay, _) in columns.items()
    )
    synthesis = db.session.scalar(select(Synthesis).where(Synthesis.request_id == first))
    assert synthesis is not None and synthesis.status == "sent"

    report = compute_report(community=community, start=today, end=tomorrow)
    assert (report["opened"], report["accepted"], report["refusals"]) == (5, 2, 3)
    assert report["time_to_accept_s"] == {"median": 338, "p90": 548}  # 75.250001 and 600: 337.63, 547.525
    assert [(row["physician_id"], row["offered"], row["accepted"], row["refused"]) for row in report["by_physician"]] == sorted(
        [(gp.id, 5, 1, 1), (o0.id, 4, 1, 0), (o2.id, 4, 0, 1), (o1.id, 4, 0, 1)],
        key=lambda row: (-row[2], -row[1], next(p.user.name for p in (gp, o0, o1, o2) if p.id == row[0]), row[0]),
    )
    assert report["syntheses"]["sent"] == 1

    # What migration 0003 computes from the same rows is what the services kept.
    backfill(db.session.connection())
    db.session.commit()
    db.session.expire_all()
    assert _rollup() == live and _columns() == columns
    assert compute_report(community=community, start=today, end=tomorrow) == report


def _request_rollup() -> dict[tuple[Any, ...], int]:
    """Return the request rollup's rows, the ones back at 0 left out."""
    rows = db.session.scalars(select(RequestDayStats).where(RequestDayStats.n != 0))
    return {(r.community_id, r.day, *(getattr(r, name) for name in GROUP)): r.n for r in rows}


def _requests_recounted() -> dict[tuple[Any, ...], int]:
    """Count the requests again, GROUP BY the rollup's keys, from the requests themselves."""
    db.session.expire_all()
    counts: Counter[tuple[Any, ...]] = Counter()
    for r in db.session.scalars(select(Request)):
        day = r.opened_at.astimezone(ZoneInfo(r.community.timezone)).date()
        counts[
            r.community_id,
            day,
            r.state,
            r.source,
            r.motive,
            r.treating_status,
            r.synthesis_status or "",
            r.accepted_by_id is not None and r.accepted_by_id == r.treating_physician_id,
        ] += 1
    return dict(counts)


def test_the_request_rollup_follows_every_change_and_the_backfill_agrees(make: Any, clock: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician", name="Dr Paul Durand")
    o0, o1 = (make.member(community, "physician", kind=kind) for kind in ("cami", "titulaire"))
    checks = 0

    def post(path: str, who: Any, **body: Any) -> None:
        response = make.call("POST", path, who, json=body)
        assert response.status_code == 200, response.json

    def same() -> None:
        nonlocal checks
        assert _request_rollup() == _requests_recounted()
        checks += 1

    # 1: the GP refuses, o0 refuses then accepts; seen, the synthesis mailed to the GP.
    first = make.open(operator, community, treating=gp)["id"]
    same()
    post(f"/requests/{first}/refuse", gp, reason="Cabinet complet")
    post(f"/requests/{first}/refuse", o0)
    same()
    assert make.accept(o0, first).status_code == 200
    same()
    post(f"/requests/{first}/outcome", o0, outcome="seen", synthesis="Otite, amoxicilline.")
    same()
    make.deliver()
    same()
    # 2: the GP refuses, o1 accepts; seen, the mail refused for good: the synthesis fails.
    second = make.open(operator, community, treating=gp)["id"]
    post(f"/requests/{second}/refuse", gp)
    assert make.accept(o1, second).status_code == 200
    make.deliver()
    ports["mail"].script = [DeliveryResult(outcome=Outcome.PERMANENT, detail="destinataire refusé")]
    post(f"/requests/{second}/outcome", o1, outcome="seen", synthesis="Entorse, repos.")
    make.deliver()
    same()
    # 3: the GP takes one in the exclusive hour and sees the patient; 4: the GP takes one, no-show.
    third = make.open(operator, community, treating=gp)["id"]
    assert make.accept(gp, third).status_code == 200
    post(f"/requests/{third}/outcome", gp, outcome="seen", synthesis="Vu au cabinet.")
    fourth = make.open(operator, community, treating=gp)["id"]
    assert make.accept(gp, fourth).status_code == 200
    post(f"/requests/{fourth}/outcome", gp, outcome="no_show")
    same()
    # 5: no treating GP, o1 refuses, it expires; 6: cancelled; 7: the GP's hour runs out, then it expires.
    fifth = make.open(operator, community)["id"]
    post(f"/requests/{fifth}/refuse", o1)
    sixth = make.open(operator, community)["id"]
    post(f"/requests/{sixth}/cancel", operator, reason="Patient rappelé")
    make.open(operator, community, treating=gp)
    clock.advance(minutes=61)
    assert make.tick() == 1  # the seventh opens to the community
    same()
    clock.advance(hours=3)
    assert make.tick() == 2  # the fifth and the seventh expire
    same()
    # 8: opened at 00:30 in Paris, the next local day; it stays open.
    clock.advance(seconds=(23 * 60 + 30) * 60 - clock.now().hour * 3600 - clock.now().minute * 60 - clock.now().second)
    make.open(operator, community)
    same()

    live = _request_rollup()
    cid, today, tomorrow = community.id, date(2026, 11, 23), date(2026, 11, 24)
    states = Counter((key[1], key[2]) for key, n in live.items() for _ in range(n))
    assert states == {
        (today, "seen"): 3,
        (today, "no_show"): 1,
        (today, "expired"): 2,
        (today, "cancelled"): 1,
        (tomorrow, "community"): 1,
    }
    syntheses = Counter(key[6] for key, n in live.items() for _ in range(n))
    assert syntheses == {"sent": 1, "failed": 1, "not_needed": 1, "": 5}
    assert sum(n for key, n in live.items() if key[7]) == 2 and all(key[0] == cid for key in live)
    report = compute_report(community=community, start=today, end=tomorrow)
    assert (report["opened"], report["accepted"], report["accepted_by_treating"]) == (8, 4, 2)
    assert {k: report["syntheses"][k] for k in ("sent", "failed", "not_needed")} == {"sent": 1, "failed": 1, "not_needed": 1}
    assert checks == 10

    # What migration 0004 computes from the same rows is what the services kept.
    backfill(db.session.connection())
    db.session.commit()
    assert _request_rollup() == live
    assert compute_report(community=community, start=today, end=tomorrow) == report


def test_every_path_that_writes_offers_or_requests_keeps_both_rollups_equal_to_a_recount(make: Any, clock: Any) -> None:
    """Fan-out by the tick's batch, refusal, a change of mind, acceptance, hand-back and re-offer, withdrawal on
    deactivation (treating GP and member), cancellation, expiry, call-back and relaunch: after each, the physicians'
    and the requests' rollups equal a recount of the rows."""
    community = make.community()
    operator = make.member(community, "operator")
    coordinator = make.member(community, "coordinator")
    gp = make.member(community, "physician", name="Dr Paul Durand")
    o0, o1, o2 = (make.member(community, "physician", kind=kind) for kind in ("cami", "titulaire", "remplacant"))
    steps = 0

    def post(path: str, who: Any, status: int = 200, **body: Any) -> Any:
        response = make.call("POST", path, who, json=body)
        assert response.status_code == status, response.json
        return response.json

    def same() -> None:
        nonlocal steps
        db.session.expire_all()
        assert _rollup() == _recomputed()
        assert _request_rollup() == _requests_recounted()
        steps += 1

    # The GP's hour runs out: the tick's batch offers both requests to the community at once.
    first = make.open(operator, community, treating=gp)["id"]
    second = make.open(operator, community, treating=gp)["id"]
    clock.advance(minutes=61)
    assert make.tick() == 2
    same()
    # o0 refuses then changes their mind and takes it; then hands the patient back: re-offered to the others.
    post(f"/requests/{first}/refuse", o0)
    post(f"/requests/{second}/refuse", o1)
    same()
    assert make.accept(o0, first, minutes=30).status_code == 200
    same()
    post(f"/requests/{first}/release", o0, reason="Urgence au cabinet")
    same()
    assert make.accept(o1, first, minutes=45).status_code == 200
    same()
    # The treating GP of a held request leaves (their offer withdrawn, the community offered), then a member leaves.
    third = make.open(operator, community, treating=gp)["id"]
    same()
    post(f"/communities/{community.id}/members/{gp.user.id}/deactivate", coordinator)
    same()
    post(f"/communities/{community.id}/members/{o2.user.id}/deactivate", coordinator)
    same()
    # One is cancelled; the other two expire, one is called back, the other relaunched.
    post(f"/requests/{second}/cancel", operator, reason="Patient rappelé")
    fourth = make.open(operator, community)["id"]
    clock.advance(hours=3)
    assert make.tick() == 2
    same()
    post(f"/requests/{third}/callback", operator, result="advice_given")
    relaunched = post(f"/requests/{fourth}/relaunch", operator, status=201)
    same()
    assert make.accept(o0, relaunched["id"], minutes=20).status_code == 200
    same()
    assert steps == 11
    assert {status for (status,) in db.session.execute(select(Offer.status).distinct())} == {
        "accepted",
        "refused",
        "withdrawn",
        "released",
    }
