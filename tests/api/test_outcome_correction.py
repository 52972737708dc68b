"""A mis-tapped outcome is corrected within 24 h of its record (CONTRACT v1.1): both are events, the report follows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dispatch.db import db
from dispatch.requests.models import Event, Synthesis


def taken(make: Any) -> dict[str, Any]:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician", mssante="dr.gp@medecin.mssante.fr")
    other = make.member(community, "physician")
    coordinator = make.member(community, "coordinator")
    opened = make.open(operator, community, treating=gp)
    make.call("POST", f"/requests/{opened['id']}/refuse", gp, json={})
    assert make.accept(other, opened["id"]).status_code == 200
    return {"community": community, "operator": operator, "gp": gp, "other": other, "coordinator": coordinator, "id": opened["id"]}


def outcome(make: Any, w: dict[str, Any], who: Any = None, **body: Any) -> Any:
    return make.call("POST", f"/requests/{w['id']}/outcome", who or w["other"], json=body)


def report(make: Any, w: dict[str, Any]) -> dict[str, Any]:
    path = f"/communities/{w['community'].id}/report?from=2026-11-01&to=2026-11-30"
    return make.call("GET", path, w["coordinator"]).json  # type: ignore[no-any-return]


def test_a_no_show_tapped_by_mistake_becomes_seen_with_its_synthesis_and_the_report_follows(make: Any, clock: Any) -> None:
    w = taken(make)
    assert outcome(make, w, outcome="no_show").status_code == 200
    assert report(make, w)["outcomes"]["no_show"] == 1
    clock.advance(hours=23, minutes=59)
    make.tokens.clear()  # signed in again the next day
    corrected = outcome(make, w, outcome="seen", synthesis="Otite moyenne aiguë, amoxicilline.")
    assert corrected.status_code == 200, corrected.json
    assert corrected.json["state"] == "seen" and corrected.json["synthesis_status"] == "pending"
    figures = report(make, w)
    assert (figures["outcomes"]["seen"], figures["outcomes"]["no_show"]) == (1, 0)
    types = db.session.scalars(select(Event.type).where(Event.request_id == w["id"]).order_by(Event.id)).all()
    assert types[-4:] == ["no_show", "outcome_corrected", "seen", "synthesis_written"]
    assert db.session.scalar(select(Synthesis.status).where(Synthesis.request_id == w["id"])) == "pending"
    history = make.call("GET", f"/requests/{w['id']}/events", w["operator"]).json
    assert next(e for e in history if e["type"] == "outcome_corrected")["data"] == {
        "physician_id": w["other"].id,
        "from": "no_show",
        "to": "seen",
    }


def test_after_24_hours_the_outcome_is_final_and_only_its_physician_corrects_it(make: Any, clock: Any) -> None:
    w = taken(make)
    assert outcome(make, w, outcome="no_show").status_code == 200
    by_another = outcome(make, w, who=w["gp"], outcome="seen", synthesis="Vu")
    assert by_another.status_code == 403
    same = outcome(make, w, outcome="no_show")
    assert same.status_code == 409 and same.json["code"] == "already_recorded"
    clock.advance(hours=24)
    make.tokens.clear()  # signed in again the next day
    late = outcome(make, w, outcome="seen", synthesis="Vu finalement")
    assert late.status_code == 409 and late.json["code"] == "outcome_final"
    assert late.headers["Content-Type"] == "application/problem+json" and "24 heures" in late.json["detail"]
    assert report(make, w)["outcomes"]["no_show"] == 1


def test_seen_corrected_to_no_show_keeps_the_synthesis_already_sent(make: Any, clock: Any) -> None:
    w = taken(make)
    assert outcome(make, w, outcome="seen", synthesis="Entorse, repos.").status_code == 200
    make.deliver()
    corrected = outcome(make, w, outcome="no_show")
    assert corrected.status_code == 200 and corrected.json["state"] == "no_show"
    assert corrected.json["synthesis_status"] == "sent"  # it reached the GP's mailbox: it is not unsent
    again = outcome(make, w, outcome="seen", synthesis="Entorse, repos.")
    assert again.status_code == 200 and again.json["state"] == "seen"
    assert len(db.session.scalars(select(Synthesis).where(Synthesis.request_id == w["id"])).all()) == 1
