"""A community with an operator, a coordinator, an admin and a physician; requests closed at exact instants."""

from __future__ import annotations

from typing import Any

import pytest

SYNTHESIS = "Otite moyenne aiguë droite ; amoxicilline 6 jours."


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    return {
        "community": community,
        "operator": make.member(community, "operator"),
        "coordinator": make.member(community, "coordinator"),
        "physician": make.member(community, "physician"),
        "admin": make.admin(),
    }


def seen_with_synthesis(make: Any, world: dict[str, Any], **changes: Any) -> int:
    """Open a request, have the physician accept it and record it seen with a synthesis; return its id."""
    opened = make.open(world["operator"], world["community"], **changes)
    assert make.accept(world["physician"], opened["id"]).status_code == 200
    seen = make.call(
        "POST", f"/requests/{opened['id']}/outcome", world["physician"], json={"outcome": "seen", "synthesis": SYNTHESIS}
    )
    assert seen.status_code == 200, seen.json
    return int(opened["id"])


def cancelled(make: Any, world: dict[str, Any], **changes: Any) -> int:
    """Open a request and cancel it at once (it closes now); return its id."""
    opened = make.open(world["operator"], world["community"], **changes)
    response = make.call("POST", f"/requests/{opened['id']}/cancel", world["operator"], json={"reason": "Patient rappelé"})
    assert response.status_code == 200, response.json
    return int(opened["id"])
