"""A data subject's requests: access (JSON and PDF), rectification by an operator, erasure; each in the trail."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader
from sqlalchemy import select

from dispatch.audit.models import AccessRecord
from dispatch.db import db
from dispatch.events import Event
from dispatch.requests.models import Request
from tests.privacy.conftest import SYNTHESIS, cancelled, seen_with_synthesis

LUCIE = {"last_name": "MARTIN", "first_name": "lucie", "birth_date": "1988-04-02"}


def _trail(app: Any, what: str) -> list[tuple[int, str | None]]:
    with app.app_context():
        rows = db.session.execute(select(AccessRecord.request_id, AccessRecord.reference).where(AccessRecord.what == what))
        return sorted((request_id, reference) for request_id, reference in rows)


def test_subject_access_gives_the_full_requests_with_their_events_recorded_with_the_reference(
    app: Any, make: Any, world: Any
) -> None:
    seen = seen_with_synthesis(make, world)
    other = cancelled(make, world, patient={"first_name": "Paul", "last_name": "Durand", "birth_date": "1950-01-01"})
    path = f"/communities/{world['community'].id}/subject-access"
    response = make.call("POST", path, world["coordinator"], json=LUCIE | {"reference": "RGPD-2026-014"})
    assert response.status_code == 200, response.json
    (item,) = response.json["requests"]
    assert item["id"] == seen and item["patient"]["last_name"] == "Martin" and item["patient"]["phone"] == "+33612345678"
    assert item["synthesis_text"] == SYNTHESIS and {"opened", "accepted", "seen"} <= {e["type"] for e in item["events"]}
    assert _trail(app, "subject_access") == [(seen, "RGPD-2026-014")] and other != seen
    # The PDF to hand over says the same.
    document = make.call("POST", path + ".pdf", world["coordinator"], json=LUCIE | {"reference": "RGPD-2026-014"})
    assert document.status_code == 200 and document.headers["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(document.data)).pages)
    assert "RGPD-2026-014" in text and "MARTIN" in text and "amoxicilline" in text and f"{seen}" in text
    # Coordinators only; operators and physicians are refused, a reference is required.
    assert make.call("POST", path, world["operator"], json=LUCIE | {"reference": "x"}).status_code == 403
    assert make.call("POST", path, world["physician"], json=LUCIE | {"reference": "x"}).status_code == 403
    assert make.call("POST", path, world["coordinator"], json=LUCIE).status_code == 422


def test_subject_erasure_answers_409_while_a_request_is_open_then_erases(app: Any, make: Any, world: Any) -> None:
    closed = cancelled(make, world)
    running = make.open(world["operator"], world["community"])
    path = f"/communities/{world['community'].id}/subject-erasure"
    refused = make.call("POST", path, world["coordinator"], json=LUCIE | {"reference": "RGPD-15"})
    assert refused.status_code == 409 and refused.json["code"] == "open_request"
    with app.app_context():
        assert db.session.get(Request, closed).erased_at is None
    make.call("POST", f"/requests/{running['id']}/cancel", world["operator"], json={"reason": "Rappelé"})
    erased = make.call("POST", path, world["coordinator"], json=LUCIE | {"reference": "RGPD-15"})
    assert erased.status_code == 200 and erased.json == {"erased": 2}
    assert _trail(app, "subject_erasure") == [(closed, "RGPD-15"), (running["id"], "RGPD-15")]
    shown = make.call("GET", f"/requests/{closed}", world["operator"]).json
    assert shown["patient"] is None and shown["erased_at"]
    again = make.call("POST", path, world["coordinator"], json=LUCIE | {"reference": "RGPD-15"})
    assert again.json == {"erased": 0}  # nothing of her is left to find


def test_an_operator_rectifies_the_patient_and_the_change_is_an_event(app: Any, make: Any, world: Any) -> None:
    request_id = cancelled(make, world)
    path = f"/requests/{request_id}/patient"
    body = {"last_name": "Martin-Leroy", "phone": "06 11 22 33 44", "reference": "RGPD-16"}
    response = make.call("PATCH", path, world["operator"], json=body)
    assert response.status_code == 200, response.json
    assert response.json["patient"]["last_name"] == "Martin-Leroy" and response.json["patient"]["phone"] == "+33611223344"
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.request_id == request_id, Event.type == "patient_rectified"))
    assert event is not None and event.data == {"fields": ["last_name", "phone"], "reference": "RGPD-16"}
    assert "Martin" not in str(event.data)  # the event names the fields, never the identity
    assert _trail(app, "rectification") == [(request_id, "RGPD-16")]
    assert make.call("PATCH", path, world["coordinator"], json={"last_name": "X"}).status_code == 403
    assert make.call("PATCH", path, world["physician"], json={"last_name": "X"}).status_code in (403, 404)
    trail = make.call("GET", f"/requests/{request_id}/access", world["coordinator"]).json
    assert trail[0]["what"] == "rectification" and trail[0]["reference"] == "RGPD-16"


def test_an_erased_request_cannot_be_rectified(make: Any, world: Any) -> None:
    request_id = cancelled(make, world)
    make.call(
        "POST", f"/communities/{world['community'].id}/subject-erasure", world["coordinator"], json=LUCIE | {"reference": "R"}
    )
    response = make.call("PATCH", f"/requests/{request_id}/patient", world["operator"], json={"last_name": "Martin"})
    assert response.status_code == 409 and response.json["code"] == "erased"
