"""Roles × communities × endpoints: each cell answers as CONTRACT.md says (allowed, 401, 403 or 404)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest

ACTORS = (
    "admin",
    "a.coordinator",
    "a.operator",
    "a.physician",
    "a.other",
    "b.coordinator",
    "b.operator",
    "b.physician",
    "anonymous",
)
_logins = itertools.count(1)


def expect(allowed: dict[str, int], default: int, **others: int) -> dict[str, int]:
    """Return the status of each actor: anonymous 401, the given ones, `default` for the rest."""
    table = {actor: default for actor in ACTORS}
    table.update({key.replace("_", "."): value for key, value in others.items()})
    table.update(allowed)
    table["anonymous"] = 401
    return table


STAFF_A = {"admin": 200, "a.coordinator": 200}
B_HIDDEN = {"b_coordinator": 404, "b_operator": 404, "b_physician": 404}
PHYSICIANS = {"a.physician": 200, "a.other": 200, "b.physician": 200}

# name: (method, path template, body or None, expected statuses)
CELLS: dict[str, tuple[str, str, Any, dict[str, int]]] = {
    "me": ("GET", "/me", None, expect({a: 200 for a in ACTORS}, 200)),
    "communities": ("GET", "/communities", None, expect({}, 200)),
    "create community": ("POST", "/communities", "community", expect({"admin": 201}, 403)),
    "community": ("GET", "/communities/{a}", None, expect(STAFF_A, 403, **B_HIDDEN)),
    "patch community": ("PATCH", "/communities/{a}", {}, expect(STAFF_A, 403, **B_HIDDEN)),
    "members": ("GET", "/communities/{a}/members", None, expect(STAFF_A, 403, **B_HIDDEN)),
    "add member": ("POST", "/communities/{a}/members", "member", expect({"admin": 201, "a.coordinator": 201}, 403, **B_HIDDEN)),
    # Strangers to community A are told it does not exist (422 on the field), like a 404.
    "open request": (
        "POST",
        "/requests",
        "request",
        expect({"a.operator": 201, "a.coordinator": 201}, 403, b_coordinator=422, b_operator=422, b_physician=422),
    ),
    "list requests": ("GET", "/requests", None, expect({"a.physician": 403, "a.other": 403, "b.physician": 403}, 200)),
    "read request": (
        "GET",
        "/requests/{r}",
        None,
        expect({"admin": 200, "a.coordinator": 200, "a.operator": 200, "a.physician": 200}, 404),
    ),
    "events": (
        "GET",
        "/requests/{r}/events",
        None,
        expect({"admin": 200, "a.coordinator": 200, "a.operator": 200, "a.physician": 403}, 404),
    ),
    "access trail": (
        "GET",
        "/requests/{r}/access",
        None,
        expect({"admin": 200, "a.coordinator": 200, "a.operator": 403, "a.physician": 403}, 404),
    ),
    # CONTRACT.md names operators and coordinators: the admin (the whole installation) is refused.
    "cancel": (
        "POST",
        "/requests/{r}/cancel",
        {"reason": "Doublon"},
        expect({"a.coordinator": 200, "a.operator": 200, "admin": 403, "a.physician": 403}, 404),
    ),
    # The exclusive hour: only the treating GP may take it; other physicians of A know it by its offer.
    "accept": ("POST", "/requests/{r}/accept", "accept", expect({"a.physician": 200, "a.other": 403}, 403, b_physician=404)),
    "refuse": ("POST", "/requests/{r}/refuse", {}, expect({"a.physician": 200, "a.other": 403}, 403, b_physician=404)),
    # Only the accepting physician gives the outcome; nobody accepted yet.
    "outcome": ("POST", "/requests/{r}/outcome", {"outcome": "no_show"}, expect({}, 403, b_physician=404)),
    # Nobody accepted yet: a physician of A is told the state ("409 if not accepted by me"), other roles their role.
    "release": (
        "POST",
        "/requests/{r}/release",
        {"reason": "Imprévu"},
        expect({"a.physician": 409, "a.other": 409}, 403, b_physician=404),
    ),
    # A returning patient's requests: the community's operators only; strangers are told it does not exist.
    "recent patient": (
        "POST",
        "/communities/{a}/patients/recent",
        {"phone": "+33612345678"},
        expect({"a.operator": 200}, 403, **B_HIDDEN),
    ),
    "offers": ("GET", "/me/offers", None, expect(PHYSICIANS, 403)),
    "add device": (
        "POST",
        "/me/devices",
        "device",  # a token of each physician's own: another's is refused (409, issue 14 point 12)
        expect({"a.physician": 201, "a.other": 201, "b.physician": 201}, 403),
    ),
    "availability": ("PUT", "/me/availability", {"available": True}, expect(PHYSICIANS, 403)),
    "report": ("GET", "/communities/{a}/report?from=2026-11-01&to=2026-11-30", None, expect(STAFF_A, 403, **B_HIDDEN)),
    "report pdf": ("GET", "/communities/{a}/report.pdf?from=2026-11-01&to=2026-11-30", None, expect(STAFF_A, 403, **B_HIDDEN)),
    # {m}: a member of A made for each actor (the answers that change it start from the same state).
    "member": ("GET", "/communities/{a}/members/{m}", None, expect(STAFF_A, 403, **B_HIDDEN)),
    "edit member": ("PATCH", "/communities/{a}/members/{m}", {"name": "Renommé"}, expect(STAFF_A, 403, **B_HIDDEN)),
    "deactivate member": ("POST", "/communities/{a}/members/{m}/deactivate", None, expect(STAFF_A, 403, **B_HIDDEN)),
    "delete member": (
        "DELETE",
        "/communities/{a}/members/{m}",
        None,
        expect({"admin": 204, "a.coordinator": 204}, 403, **B_HIDDEN),
    ),
    "reactivate member": ("POST", "/communities/{a}/members/{m}/reactivate", None, expect(STAFF_A, 403, **B_HIDDEN)),
    # The member chose a password already: the admin is told so (409 password_set); for an account in use, no link
    # from a coordinator (issue 23: 403 account_in_use).
    "invite member": (
        "POST",
        "/communities/{a}/members/{m}/invitation",
        None,
        expect({"admin": 409}, 403, **B_HIDDEN),
    ),
    "reset member password": (
        "POST",
        "/communities/{a}/members/{m}/password-reset",
        None,
        expect({"admin": 202}, 403, **B_HIDDEN),
    ),
    # The trail of members' accounts: the admin's alone (issue 23).
    "member trail": ("GET", "/communities/{a}/members/{m}/trail", None, expect({"admin": 200}, 403, **B_HIDDEN)),
    "community member trail": ("GET", "/communities/{a}/member-trail", None, expect({"admin": 200}, 403, **B_HIDDEN)),
}


@pytest.fixture
def people(world: Any) -> dict[str, Any]:
    a, b = world["a"], world["b"]
    return {
        "admin": world["admin"],
        "a.coordinator": a["coordinator"],
        "a.operator": a["operator"],
        "a.physician": a["physician"],
        "a.other": a["other"],
        "b.coordinator": b["coordinator"],
        "b.operator": b["operator"],
        "b.physician": b["physician"],
        "anonymous": None,
    }


def body_for(kind: Any, make: Any, world: Any) -> Any:
    n = next(_logins)
    if kind == "community":
        return {"name": f"CPTS matrice {n}"}
    if kind == "member":
        return {"role": "operator", "login": f"matrix{n}", "password": "a long password", "name": f"Opérateur {n}"}
    if kind == "request":
        return make.request_body(world["a"]["community"])
    if kind == "device":
        return {"platform": "android", "token": f"device-token-{n:06d}"}
    if kind == "accept":
        return {"appointment_at": (make.clock.now() + timedelta(minutes=30)).isoformat()}
    return kind


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell(name: str, make: Any, world: Any, people: dict[str, Any]) -> None:
    method, template, body, expected = CELLS[name]
    wrong = {}
    for actor in ACTORS:
        # A fresh request per actor: the answers that change it (cancel, accept) start from the same state.
        opened = make.open(world["a"]["operator"], world["a"]["community"], treating=world["a"]["physician"])
        member = make.member(world["a"]["community"], "operator", phone="+33612345699") if "{m}" in template else None
        path = template.format(a=world["a"]["community"].id, r=opened["id"], m=member.id if member else 0)
        response = make.call(method, path, people[actor], json=body_for(body, make, world))
        assert (
            response.mimetype in ("application/json", "application/problem+json", "application/pdf") or response.status_code == 204
        )
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json"
        if response.status_code != expected[actor]:
            wrong[actor] = (response.status_code, expected[actor], (response.json or {}).get("detail"))
    assert not wrong, wrong
