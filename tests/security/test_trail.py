"""Every read of a patient's identity leaves a row: who, when, from which client; coordinators list them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from dispatch.audit.models import AccessRecord
from dispatch.audit.service import record_access
from dispatch.db import db

PHONE = {"User-Agent": "SNP-Mobile/2.1 (Android 14)"}


def rows(request_id: int) -> list[AccessRecord]:
    return list(db.session.scalars(select(AccessRecord).where(AccessRecord.request_id == request_id).order_by(AccessRecord.id)))


def test_full_reads_are_recorded_anonymised_ones_are_not(make: Any, world: Any, clock: Any) -> None:
    a = world["a"]
    opened = make.open(a["operator"], a["community"], treating=a["physician"])
    assert rows(opened["id"]) == []  # the operator typed it: opening is not a read

    assert make.call("GET", f"/requests/{opened['id']}", a["operator"], headers=PHONE).status_code == 200
    clock.advance(seconds=3600)
    make.tick()
    view = make.call("GET", f"/requests/{opened['id']}", a["other"])
    assert view.json["anonymised"] is True
    assert [r.what for r in rows(opened["id"])] == ["request"]

    assert make.accept(a["other"], opened["id"]).status_code == 200
    assert make.call("POST", f"/requests/{opened['id']}/outcome", a["other"], json={"outcome": "no_show"}).status_code == 200
    trail = rows(opened["id"])
    assert [r.what for r in trail] == ["request", "accept", "outcome"]
    first = trail[0]
    assert first.user_id == a["operator"].id and first.role == "operator"
    assert first.at.isoformat() == "2026-11-23T14:00:00+00:00" and "SNP-Mobile/2.1" in first.client
    assert trail[1].user_id == a["other"].user.id and trail[1].at.isoformat() == "2026-11-23T15:00:00+00:00"


def test_a_list_records_one_row_per_request_shown(make: Any, world: Any) -> None:
    a = world["a"]
    ids = [make.open(a["operator"], a["community"])["id"] for _ in range(3)]
    response = make.call("GET", "/requests?limit=2", a["operator"])  # coordinators see no identity (point 13)
    assert [r["id"] for r in response.json] == ids[:0:-1]
    counted = {
        request_id: n
        for request_id, n in db.session.execute(select(AccessRecord.request_id, func.count()).group_by(AccessRecord.request_id))
    }
    assert counted == {ids[2]: 1, ids[1]: 1}


def test_coordinators_and_admins_list_the_trail_others_do_not(make: Any, world: Any) -> None:
    a, b = world["a"], world["b"]
    opened = make.open(a["operator"], a["community"], treating=a["physician"])
    for _ in range(3):
        make.call("GET", f"/requests/{opened['id']}", a["operator"], headers=PHONE)
    path = f"/requests/{opened['id']}/access"
    page = make.call("GET", f"{path}?limit=2", a["coordinator"])
    assert page.status_code == 200 and len(page.json) == 2
    assert page.json[0]["user"] == {"id": a["operator"].id, "name": a["operator"].name, "role": "operator"}
    assert page.json[0]["what"] == "request" and page.json[0]["at"] == "2026-11-23T14:00:00Z"
    assert 'rel="next"' in page.headers["Link"] and f"before={page.json[1]['id']}" in page.headers["Link"]
    rest = make.call("GET", f"{path}?limit=2&before={page.json[1]['id']}", a["coordinator"]).json
    assert len(rest) == 1
    assert make.call("GET", path, world["admin"]).status_code == 200
    assert make.call("GET", path, a["operator"]).status_code == 403
    assert make.call("GET", path, a["physician"]).status_code == 403  # the treating GP reads it, not its trail
    assert make.call("GET", path, b["coordinator"]).status_code == 404
    assert make.call("GET", path).status_code == 401
    # Listing the trail does not show the patient: it is not itself a read.
    assert len(rows(opened["id"])) == 3


def test_record_access_for_other_endpoints(make: Any, world: Any, app: Any) -> None:
    a = world["a"]
    opened = make.open(a["operator"], a["community"])
    with app.test_request_context():
        record_access(opened["id"], user=a["operator"], what="synthesis_pdf", client="127.0.0.1 pytest")
    [row] = rows(opened["id"])
    assert (row.what, row.client, row.at.isoformat()) == ("synthesis_pdf", "127.0.0.1 pytest", "2026-11-23T14:00:00+00:00")
