"""The report's copies kept by the services equal a recomputation from the offers, and the backfill's."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from dispatch.db import db
from dispatch.escalation.models import Offer, Request
from dispatch.reports.models import PhysicianDayStats
from dispatch.reports.rollup import backfill, delay_us
from dispatch.reports.service import compute_report
from dispatch.synthesis.models import Synthesis


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
    return {key: (counts[key, "offered"], counts[key, "accepted"], counts[key, "refused"])
            for key, kind in counts if kind == "offered"}


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
    clock.advance(seconds=(23 * 60 + 30) * 60 - clock.now().hour * 3600 - clock.now().minute * 60
                  - clock.now().second)
    fifth = make.open(operator, community)["id"]
    post(f"/requests/{fifth}/refuse", o2)
    db.session.expire_all()

    live = _rollup()
    assert live == _recomputed()
    today, tomorrow = date(2026, 11, 23), date(2026, 11, 24)
    cid = community.id
    assert live == {
        (cid, gp.id, today): (4, 1, 1), (cid, o0.id, today): (3, 1, 0), (cid, o1.id, today): (3, 0, 1),
        (cid, o2.id, today): (3, 0, 0), (cid, gp.id, tomorrow): (1, 0, 0), (cid, o0.id, tomorrow): (1, 0, 0),
        (cid, o1.id, tomorrow): (1, 0, 0), (cid, o2.id, tomorrow): (1, 0, 1),
    }
    columns = _columns()
    requests = {r.id: r for r in db.session.scalars(select(Request))}
    assert columns[first] == (75_250_001, "sent") and columns[fourth] == (600_000_000, None)
    assert columns[second] == columns[third] == columns[fifth] == (None, None)
    assert all(delay == (delay_us(requests[i].opened_at, requests[i].accepted_at) if requests[i].accepted_at
                         else None) for i, (delay, _) in columns.items())
    synthesis = db.session.scalar(select(Synthesis).where(Synthesis.request_id == first))
    assert synthesis is not None and synthesis.status == "sent"

    report = compute_report(community=community, start=today, end=tomorrow)
    assert (report["opened"], report["accepted"], report["refusals"]) == (5, 2, 3)
    assert report["time_to_accept_s"] == {"median": 338, "p90": 548}  # 75.250001 and 600: 337.63, 547.525
    assert [(row["physician_id"], row["offered"], row["accepted"], row["refused"]) for row in report["by_physician"]
            ] == sorted([(gp.id, 5, 1, 1), (o0.id, 4, 1, 0), (o2.id, 4, 0, 1), (o1.id, 4, 0, 1)],
                        key=lambda row: (-row[2], -row[1], next(p.user.name for p in (gp, o0, o1, o2)
                                                                  if p.id == row[0]), row[0]))
    assert report["syntheses"]["sent"] == 1

    # What migration 0003 computes from the same rows is what the services kept.
    backfill(db.session.connection())
    db.session.commit()
    db.session.expire_all()
    assert _rollup() == live and _columns() == columns
    assert compute_report(community=community, start=today, end=tomorrow) == report
