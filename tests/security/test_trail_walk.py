"""No full view without its line in the trail (issue 14, point 3): every GET route, API and pages, walked as everyone.

A route that shows the patient's identity to a user must leave a new line of the access trail for that user.
"""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader
from sqlalchemy import func, select

from dispatch.audit.models import AccessRecord
from dispatch.db import db
from tests.pages.conftest import PageClient

FIRST, LAST, PHONE = "Ondine", "Quenouille", "+33698765432"
SKIPPED = ("/static/", "/dev/", "/api/v1/openapi.json", "/m/sw.js", "/deconnexion")


def _lines(user_id: int, request_id: int) -> int:
    db.session.expire_all()
    query = select(func.count()).where(AccessRecord.user_id == user_id, AccessRecord.request_id == request_id)
    return db.session.scalar(query) or 0


def _paths(app: Any, values: dict[str, int]) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or any(rule.rule.startswith(s) for s in SKIPPED):
            continue
        if not set(rule.arguments) <= set(values):
            continue
        paths.append(rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1])
    return sorted(set(paths))


def test_every_get_route_that_shows_identity_records_it(app: Any, make: Any, world: dict[str, Any], clock: Any) -> None:
    a = world["a"]
    body = make.request_body(a["community"], treating=a["physician"])
    body["patient"].update(first_name=FIRST, last_name=LAST, phone=PHONE)
    opened = make.call("POST", "/requests", a["operator"], json=body).json
    clock.advance(hours=1)
    make.tick()
    assert make.accept(a["other"], opened["id"]).status_code == 200
    outcome = {"outcome": "seen", "synthesis": "Otite, amoxicilline."}
    assert make.call("POST", f"/requests/{opened['id']}/outcome", a["other"], json=outcome).status_code == 200
    values = {"request_id": opened["id"], "community_id": a["community"].id}
    paths = _paths(app, values)
    assert any(p.startswith("/api/") for p in paths) and any(p.startswith("/console") for p in paths)
    walked: dict[str, list[str]] = {}
    everyone = {
        "operator": a["operator"],
        "treating": a["physician"],
        "winner": a["other"],
        "coordinator": a["coordinator"],
        "admin": world["admin"],
    }
    for who, person in everyone.items():
        user = getattr(person, "user", person)
        pages = PageClient(app)
        assert pages.sign_in(user.login).status_code == 302
        for path in paths:
            before = _lines(user.id, opened["id"])
            if path.startswith("/api/"):
                response = make.client.get(path, headers=make.headers(person))
            else:
                response = pages.http.get(path)
            text = response.get_data().decode("utf-8", "replace")
            if response.mimetype == "application/pdf" and response.status_code == 200:  # the words it prints
                text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
            shows = LAST in text or LAST.upper() in text or PHONE in text or "06 98 76 54 32" in text
            if shows:
                walked.setdefault(who, []).append(path)
                assert _lines(user.id, opened["id"]) > before, f"{who} saw the patient on {path} without a trail line"
    # The walk did meet the full views it must (so the check above checked something), and no one else's.
    assert set(walked) == {"operator", "treating", "winner"}, walked
    assert any(path.endswith("/synthesis.pdf") for path in walked["winner"]), walked  # a PDF's words are read too
