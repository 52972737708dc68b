"""Issue 23, point 4 (b): a member's phone is in France or the community's region unless the admin enters it (SMS
toll fraud to +252, +371… through invitations and resets)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from dispatch.auth.models import User
from dispatch.db import db
from tests.pages.conftest import PageClient
from tests.pages.test_members import text

FOREIGN = ["+252 61 234 5678", "+371 2001 2345", "00 44 7911 123456"]


def member(login: str, phone: str) -> dict[str, Any]:
    return {"role": "operator", "login": login, "name": "Opératrice", "phone": phone, "invite": "sms"}


@pytest.mark.parametrize("phone", FOREIGN)
def test_a_coordinator_cannot_enter_a_foreign_mobile(make: Any, phone: str) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    created = make.call("POST", f"/communities/{community.id}/members", coordinator, json=member("op-foreign", phone))
    assert created.status_code == 422 and created.mimetype == "application/problem+json"
    assert "seul l'administrateur" in created.json["errors"]["phone"][0]
    operator = make.member(community, "operator")
    patched = make.call("PATCH", f"/communities/{community.id}/members/{operator.id}", coordinator, json={"phone": phone})
    assert patched.status_code == 422 and "phone" in patched.json["errors"]
    db.session.refresh(operator)
    assert operator.phone is None


def test_the_admin_may_and_the_community_region_is_accepted(make: Any) -> None:
    admin, community = make.admin(), make.community()
    assert make.call("PATCH", f"/communities/{community.id}", admin, json={"region": "RE"}).status_code == 200
    created = make.call("POST", f"/communities/{community.id}/members", admin, json=member("op-latvia", FOREIGN[1]))
    assert created.status_code == 201
    coordinator = make.member(community, "coordinator")
    for login, phone in (("op-reunion", "0692 12 34 56"), ("op-metro", "06 12 34 56 78")):
        answer = make.call("POST", f"/communities/{community.id}/members", coordinator, json=member(login, phone))
        assert answer.status_code == 201, answer.json
    # La Réunion's numbers are not a metropolitan community's.
    other = make.community()
    theirs = make.member(other, "coordinator")
    refused = make.call("POST", f"/communities/{other.id}/members", theirs, json=member("op-re2", "0692 12 34 57"))
    assert refused.status_code == 422 and "phone" in refused.json["errors"]


def test_a_roster_line_with_a_foreign_mobile_is_reported(make: Any) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    page = PageClient(make.app)
    assert page.sign_in(coordinator.login).status_code == 302
    page.get("/pilotage/membres")
    raw = "rôle;identifiant;nom;téléphone\nopérateur;somalie;Op Somalie;+252612345678\n".encode()
    posted = page.post("/pilotage/membres/import", {"roster": (io.BytesIO(raw), "m.csv")}, content_type="multipart/form-data")
    report = text(page.get(posted.headers["Location"]))
    assert "Ligne 2 — téléphone : Numéro hors de France" in report
    assert db.session.query(User).filter_by(login="somalie").first() is None
