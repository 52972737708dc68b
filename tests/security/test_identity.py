"""Identity is for three people only (issue 14, point 13): coordinators and the admin get the anonymised view everywhere."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dispatch.audit.models import AccessRecord
from dispatch.db import db
from tests.pages.conftest import PageClient

OUTSIDE_GP = {"status": "declared", "rpps": "10000000009", "name": "Dr Externe", "mssante": "externe@cabinet.mssante.fr"}


def _signed_in(app: Any, who: Any) -> PageClient:
    client = PageClient(app)
    assert client.sign_in(who.login).status_code == 302
    return client


def test_coordinators_and_the_admin_see_no_identity_on_the_api_pages_exports_and_events(
    app: Any, make: Any, world: dict[str, Any]
) -> None:
    a = world["a"]
    opened = make.open(a["operator"], a["community"], treating_physician=OUTSIDE_GP)
    assert make.accept(a["physician"], opened["id"]).status_code == 200
    make.deliver()  # the outside GP's "taken" notice: its event names the GP's address
    day = make.clock.now().date().isoformat()
    for who in (a["coordinator"], world["admin"]):
        listed = make.call("GET", f"/requests?community_id={a['community'].id}", who)
        one = make.call("GET", f"/requests/{opened['id']}", who)
        events = make.call("GET", f"/requests/{opened['id']}/events", who)
        for response in (listed, one, events):
            assert response.status_code == 200, response.json
            body = response.get_data(as_text=True)
            for secret in ("Lucie", "Martin", "+33612345678", "1988-04-02", "Dr Externe", "10000000009", "externe@"):
                assert secret not in body, (who.role, response.request.path, secret)
        assert one.json["anonymised"] is True and listed.json[0]["anonymised"] is True
        assert any(e["type"].endswith("_sent") for e in events.json)
        assert make.call("GET", f"/requests/{opened['id']}/synthesis.pdf", who).status_code == 404
        pages = _signed_in(app, who)
        for path in ("/console", "/console/live", f"/console/demandes/{opened['id']}"):
            page = pages.get(path)
            assert page.status_code == 200, path
            text = page.get_data(as_text=True)
            assert "Martin" not in text and "MARTIN" not in text and "externe@" not in text, path
        export = make.call("GET", f"/communities/{a['community'].id}/requests.csv?from={day}&to={day}", who)
        assert export.status_code == 200 and "Martin" not in export.get_data(as_text=True)
    db.session.expire_all()
    readers = {r.user_id for r in db.session.scalars(select(AccessRecord).where(AccessRecord.request_id == opened["id"]))}
    assert readers.isdisjoint({a["coordinator"].id, world["admin"].id})  # nothing of theirs to record
    operator = make.call("GET", f"/requests/{opened['id']}/events", a["operator"])
    assert "externe@cabinet.mssante.fr" in operator.get_data(as_text=True)  # the operator's view is full
