"""The live pages' change counter (issue 24, point 7): it moves with every change a live page shows, and the four
polled digests answer 304 from it while nothing moved, 200 with a new tag once something did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dispatch import texts
from dispatch.db import db
from dispatch.events import record_event
from dispatch.requests.live_versions import versions
from tests.pages.test_console_browser import expire, shift

SYNTHESIS = "Otite moyenne aiguë droite. Amoxicilline 7 jours. Revoir si fièvre au-delà de 48 h."


def counter(w: dict[str, Any]) -> int:
    return versions([w["community"].id])[w["community"].id]


def _opened(make: Any, clock: Any, w: dict[str, Any]) -> dict[str, Any]:
    return make.open(w["nadia"], w["community"], treating=w["gp"])


def _accepted(make: Any, clock: Any, w: dict[str, Any]) -> dict[str, Any]:
    opened = _opened(make, clock, w)
    assert make.accept(w["gp"], opened["id"], minutes=150).status_code == 200
    return opened


def _expired(make: Any, clock: Any, w: dict[str, Any]) -> dict[str, Any]:
    return expire(make, clock, w)


def _community(make: Any, clock: Any, w: dict[str, Any]) -> dict[str, Any]:
    opened = _opened(make, clock, w)
    assert make.call("POST", f"/requests/{opened['id']}/refuse", w["gp"], json={}).status_code == 200
    return opened


def _post(path: str, who: str, later: int = 0, **body: Any) -> Callable[[Any, Any, dict[str, Any], dict[str, Any]], Any]:
    def act(make: Any, clock: Any, w: dict[str, Any], r: dict[str, Any]) -> Any:
        clock.advance(minutes=later)
        response = make.call("POST", path.format(id=r["id"]), w[who], json=body)
        assert response.status_code == 200, response.json
        return response

    return act


def _tick_after(**delta: int) -> Callable[[Any, Any, dict[str, Any], dict[str, Any]], Any]:
    def act(make: Any, clock: Any, w: dict[str, Any], r: dict[str, Any]) -> Any:
        clock.advance(**delta)
        assert make.tick() >= 1

    return act


def _open(make: Any, clock: Any, w: dict[str, Any], r: dict[str, Any]) -> Any:
    return _opened(make, clock, w)


def _with_a_device(make: Any, clock: Any, w: dict[str, Any]) -> dict[str, Any]:
    make.device(w["gp"])
    return _opened(make, clock, w)


def _trail(make: Any, clock: Any, w: dict[str, Any], r: dict[str, Any]) -> Any:
    record_event(r["id"], type="synthesis_sent", at=clock.now(), data={"to": "gp@medecin.mssante.fr"})
    db.session.commit()  # what became of a secure message: a line of the history the request's page shows


# (what a live page shows, the state before, the change)
CHANGES = [
    ("a request opened", None, _open),
    ("the exclusive hour passes (tick)", _opened, _tick_after(hours=1, seconds=1)),
    ("the treating GP refuses", _opened, _post("/requests/{id}/refuse", "gp")),
    ("a physician of the community refuses", _community, _post("/requests/{id}/refuse", "other")),
    ("accepted", _community, lambda make, clock, w, r: make.accept(w["other"], r["id"], minutes=150)),
    ("handed back", _accepted, _post("/requests/{id}/release", "gp", reason="Urgence au cabinet")),
    (
        "an outcome and its synthesis",
        _accepted,
        _post("/requests/{id}/outcome", "gp", later=151, outcome="seen", synthesis=SYNTHESIS),
    ),
    ("cancelled", _opened, _post("/requests/{id}/cancel", "nadia", reason="Patient rappelé")),
    ("expired (tick)", _opened, _tick_after(hours=2)),
    ("called back", _expired, _post("/requests/{id}/callback", "yves", result="unreachable")),
    ("an event of the history (a secure message sent)", _opened, _trail),
]


@pytest.mark.parametrize(("change", "before", "act"), CHANGES, ids=[c[0] for c in CHANGES])
def test_the_counter_moves_with_each_change_a_live_page_shows(make: Any, clock: Any, change: str, before: Any, act: Any) -> None:
    w = shift(make)
    elsewhere = make.community("CPTS Ailleurs")
    request = before(make, clock, w) if before else {}
    was, other = counter(w), versions([elsewhere.id])[elsewhere.id]
    act(make, clock, w, request)
    assert counter(w) > was, change
    assert versions([elsewhere.id])[elsewhere.id] == other  # another community's pages keep answering 304


def test_reading_a_refused_action_and_a_push_delivered_move_nothing(make: Any, clock: Any, as_user: Any) -> None:
    w = shift(make)
    opened = _with_a_device(make, clock, w)
    was = counter(w)
    assert make.deliver() >= 1  # no page shows a push's delivery
    as_user(w["yves"]).get(f"/console/demandes/{opened['id']}")  # a full view, recorded in the access trail
    assert make.call("POST", f"/requests/{opened['id']}/accept", w["other"], json={"appointment_at": "x"}).status_code == 422
    assert counter(w) == was


def _urls(w: dict[str, Any], opened: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("gp", "/m/etat"),
        ("gp", f"/m/requests/{opened['id']}/etat"),
        ("yves", "/console/etat"),
        ("yves", f"/console/demandes/{opened['id']}/etat"),
    ]


@pytest.mark.parametrize(
    "index", range(4), ids=["/m/etat", "/m/requests/<id>/etat", "/console/etat", "/console/demandes/<id>/etat"]
)
def test_each_live_digest_answers_304_while_nothing_moved_and_200_after_a_change(
    make: Any, clock: Any, as_user: Any, index: int
) -> None:
    w = shift(make)
    opened = make.open(w["nadia"], w["community"], treating=w["gp"])
    who, url = _urls(w, opened)[index]
    client = as_user(w[who])
    first = client.get(url)
    assert first.status_code == 200 and first.headers["ETag"] and first.headers["Cache-Control"] == "no-store"
    tag = first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == tag
    # Something elsewhere moves nothing here.
    elsewhere = make.community("CPTS Ailleurs")
    make.open(make.member(elsewhere, "operator", name="Opératrice Ailleurs"), elsewhere)
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    # The treating GP accepts: every page of the request and both lists move.
    assert make.accept(w["gp"], opened["id"], minutes=45).status_code == 200
    moved = client.get(url, headers={"If-None-Match": tag})
    assert moved.status_code == 200 and moved.headers["ETag"] != tag
    key = "signature" if "signature" in first.json else "state"
    assert moved.json[key] != first.json[key]
    assert client.get(url, headers={"If-None-Match": moved.headers["ETag"]}).status_code == 304


def test_a_tag_from_another_user_or_request_gets_the_full_answer(make: Any, clock: Any, as_user: Any) -> None:
    w = shift(make)
    opened = make.open(w["nadia"], w["community"], treating=w["gp"])
    tag = as_user(w["yves"]).get(f"/console/demandes/{opened['id']}/etat").headers["ETag"]
    nadia = as_user(w["nadia"])
    assert nadia.get(f"/console/demandes/{opened['id']}/etat", headers={"If-None-Match": tag}).status_code == 200
    stranger = as_user(make.member(make.community("CPTS Ailleurs"), "operator", name="Opérateur Ailleurs"))
    assert stranger.get(f"/console/demandes/{opened['id']}/etat", headers={"If-None-Match": tag}).status_code == 404
    assert stranger.get("/console/demandes/999999/etat", headers={"If-None-Match": "*"}).status_code == 404


def test_the_console_digest_moves_at_local_midnight(make: Any, clock: Any, as_user: Any) -> None:
    w = shift(make)
    make.open(w["nadia"], w["community"], treating=w["gp"])
    client = as_user(w["yves"])
    tag = client.get("/console/etat").headers["ETag"]
    day = texts.local(clock.now(), w["community"].timezone).date()
    for _ in range(24):  # hour by hour (the session stays alive): yesterday's requests leave the list at midnight
        clock.advance(hours=1)
        status = client.get("/console/etat", headers={"If-None-Match": tag}).status_code
        assert status == (304 if texts.local(clock.now(), w["community"].timezone).date() == day else 200)
        if status == 200:
            break
    assert status == 200
