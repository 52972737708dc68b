"""Each community's retention: the patient erased retention_days after the request closed, the trail after trail_days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from dispatch.audit.models import AccessRecord
from dispatch.db import db
from dispatch.events import Event
from dispatch.heartbeat import last_beat
from dispatch.notify.models import OutboxMessage
from dispatch.privacy.retention import HEARTBEAT, due, run_retention
from dispatch.requests.models import Request, Synthesis
from tests.privacy.conftest import SYNTHESIS, cancelled, seen_with_synthesis


def _run(app: Any, clock: Any) -> Any:
    with app.app_context():
        return run_retention(now=clock.now(), batch=2)  # small batches: the loop is exercised


def test_a_request_closed_retention_days_less_one_second_ago_is_kept_and_one_closed_retention_days_ago_is_erased(
    app: Any, make: Any, world: Any, clock: Any
) -> None:
    closed_at = clock.now()
    request_id = cancelled(make, world)
    clock.set(closed_at + timedelta(days=365, seconds=-1))
    assert _run(app, clock).requests == 0
    with app.app_context():
        assert db.session.get(Request, request_id).erased_at is None
    clock.set(closed_at + timedelta(days=365))
    assert _run(app, clock).requests == 1
    with app.app_context():
        assert db.session.get(Request, request_id).erased_at == closed_at + timedelta(days=365)
    assert _run(app, clock).requests == 0  # idempotent


def test_each_community_has_its_own_retention(app: Any, make: Any, world: Any, clock: Any) -> None:
    other = make.community()
    other_operator = make.member(other, "operator")
    mine = cancelled(make, world)
    opened = make.open(other_operator, other)
    make.call("POST", f"/requests/{opened['id']}/cancel", other_operator, json={"reason": "Rappelé"})
    response = make.call("PATCH", f"/communities/{world['community'].id}", world["admin"], json={"retention_days": 30})
    assert response.status_code == 200 and response.json["retention_days"] == 30 and response.json["trail_days"] == 1095
    clock.advance(days=30)
    assert _run(app, clock).requests == 1
    with app.app_context():
        assert db.session.get(Request, mine).erased_at is not None
        assert db.session.get(Request, opened["id"]).erased_at is None


def test_what_is_erased_and_what_is_kept_column_by_column(app: Any, make: Any, world: Any, clock: Any) -> None:
    request_id = seen_with_synthesis(make, world)
    with app.app_context():
        before = {
            column.name: value
            for column, value in zip(
                Request.__table__.c,
                db.session.execute(select(Request.__table__).where(Request.id == request_id)).one(),
                strict=True,
            )
        }
        synthesis_before = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request_id))
        status_before = synthesis_before.status
    clock.advance(days=365)
    assert _run(app, clock).requests == 1
    with app.app_context():
        after = {
            column.name: value
            for column, value in zip(
                Request.__table__.c,
                db.session.execute(select(Request.__table__).where(Request.id == request_id)).one(),
                strict=True,
            )
        }
        synthesis = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request_id))
        messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.request_id == request_id)).all()
        erased_event = db.session.scalar(select(Event).where(Event.request_id == request_id, Event.type == "patient_erased"))
    erased = {
        "patient_first_name": "",
        "patient_last_name": "",
        "patient_birth_date": None,
        "patient_sex": None,
        "patient_phone": None,
        "patient_city": None,
        "description": None,
        "callback_note": None,
    }
    assert before["patient_last_name"] == "Martin" and before["description"] and before["patient_phone"]
    for name, value in erased.items():
        assert after[name] == value, name
    changed = {name for name in before if before[name] != after[name]}
    assert changed <= set(erased) | {"erased_at", "version"}
    # Kept: dates, motive, source, postcode, outcome, the treating GP's status, the synthesis's status.
    for name in (
        "opened_at",
        "closed_at",
        "accepted_at",
        "motive",
        "source",
        "patient_postcode",
        "outcome",
        "state",
        "treating_status",
        "synthesis_status",
        "accepted_by_id",
        "accept_delay_us",
    ):
        assert after[name] == before[name], name
    assert synthesis.text == "" and synthesis.status == status_before and SYNTHESIS not in str(after)
    assert messages and all(m.address is None and m.payload == {} for m in messages if m.status not in ("pending", "sending"))
    assert erased_event is not None and erased_event.data == {"reason": "retention"}


def test_an_erased_request_answers_patient_null_and_erased_at_and_its_synthesis_pdf_410(
    app: Any, make: Any, world: Any, clock: Any
) -> None:
    request_id = seen_with_synthesis(make, world)
    assert make.call("GET", f"/requests/{request_id}/synthesis.pdf", world["operator"]).status_code == 200
    clock.advance(days=365)
    _run(app, clock)
    make.tokens.clear()  # a year later: signed in again
    shown = make.call("GET", f"/requests/{request_id}", world["operator"]).json
    assert shown["patient"] is None and shown["erased_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert shown["description"] is None and shown["motive"] == "ent" and shown["outcome"] == "seen"
    listed = make.call("GET", f"/requests?community_id={world['community'].id}", world["operator"]).json
    assert listed[0]["patient"] is None and listed[0]["erased_at"]
    response = make.call("GET", f"/requests/{request_id}/synthesis.pdf", world["operator"])
    assert response.status_code == 410 and response.json["code"] == "erased"
    assert "effacé" in response.json["title"] + response.json.get("detail", "")


def test_the_trail_and_events_are_pruned_after_trail_days_and_never_a_line_younger(
    app: Any, make: Any, world: Any, clock: Any
) -> None:
    make.call("PATCH", f"/communities/{world['community'].id}", world["admin"], json={"retention_days": 3650, "trail_days": 180})
    old = cancelled(make, world)
    make.call("GET", f"/requests/{old}", world["operator"])  # a line in the trail
    with app.app_context():
        make.deliver()  # its messages sent: only then are they blanked
    written = clock.now()
    with app.app_context():
        old_lines = db.session.scalar(select(func.count()).select_from(AccessRecord).where(AccessRecord.request_id == old))
        old_events = db.session.scalar(select(func.count()).select_from(Event).where(Event.request_id == old))
    assert old_lines and old_events
    clock.set(written + timedelta(days=180))  # exactly trail_days: not older than that yet
    make.tokens.clear()
    young = cancelled(make, world)
    make.call("GET", f"/requests/{young}", world["operator"])
    swept = _run(app, clock)
    assert swept.trail == 0 and swept.events == 0
    clock.set(written + timedelta(days=180, microseconds=1))
    swept = _run(app, clock)
    assert swept.trail == old_lines and swept.events == old_events
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccessRecord).where(AccessRecord.request_id == old)) == 0
        assert db.session.scalar(select(func.count()).select_from(Event).where(Event.request_id == old)) == 0
        assert db.session.scalar(select(func.count()).select_from(AccessRecord).where(AccessRecord.request_id == young)) > 0
        assert db.session.scalar(select(func.count()).select_from(Event).where(Event.request_id == young)) > 0
        messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.request_id == old)).all()
        assert messages and all(m.address is None and m.payload == {} for m in messages)
        assert db.session.get(Request, old).erased_at is None  # its retention is ten years


def test_the_daily_run_is_due_once_a_day_and_recorded(app: Any, clock: Any) -> None:
    with app.app_context():
        assert due(now=clock.now())
        run_retention(now=clock.now())
        assert last_beat(HEARTBEAT) == clock.now()
        assert not due(now=clock.now() + timedelta(hours=23, minutes=59, seconds=59))
        assert due(now=clock.now() + timedelta(days=1))


def test_retention_days_are_bounded_and_set_by_the_admin_only(make: Any, world: Any) -> None:
    path = f"/communities/{world['community'].id}"
    assert make.call("GET", path, world["coordinator"]).json["retention_days"] == 365
    refused = make.call("PATCH", path, world["coordinator"], json={"retention_days": 90})
    assert refused.status_code == 403 and refused.json["code"] == "admin_only"
    for body in ({"retention_days": 29}, {"retention_days": 3651}, {"trail_days": 179}):
        assert make.call("PATCH", path, world["admin"], json=body).status_code == 422, body
    assert make.call("PATCH", path, world["admin"], json={"retention_days": 30, "trail_days": 180}).status_code == 200
