"""The one policy: who may do what to a request or a community, which view they get, and the trail of full views."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from dispatch import policy
from dispatch.audit.models import AccessRecord
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.policy import Action
from dispatch.requests.models import Request
from tests.pages.conftest import PageClient

A, B = 1, 2
GP, WINNER, OFFERED, MEMBER = 11, 12, 13, 14
OWNER, OTHER_REQUESTER = 31, 32  # user ids of requesters: the one who opened the request, another of its community


def user(role: str, community: int | None = None, physician: int | None = None, user_id: int | None = None) -> Any:
    memberships = [] if community is None else [SimpleNamespace(community_id=community, role=role)]
    physician_record = SimpleNamespace(id=physician) if physician else None
    return SimpleNamespace(id=user_id, role=role, memberships=memberships, physician=physician_record)


# Who is what to a request of community A (treating GP 11, accepted by 12, offered to 13; 14 a member never offered).
USERS = {
    "admin": user("admin"),
    "operator": user("operator", A),
    "coordinator": user("coordinator", A),
    "member": user("physician", A, MEMBER),
    "offered": user("physician", A, OFFERED),
    "treating": user("physician", A, GP),
    "winner": user("physician", A, WINNER),
    "operator_b": user("operator", B),
    "coordinator_b": user("coordinator", B),
    "physician_b": user("physician", B, 21),
    "owner": user("requester", A, user_id=OWNER),
    "requester": user("requester", A, user_id=OTHER_REQUESTER),
}
REQUEST = SimpleNamespace(id=7, community_id=A, treating_physician_id=GP, accepted_by_id=WINNER, opened_by_id=OWNER)
REQUEST_ACTIONS = (
    Action.READ,
    Action.CANCEL,
    Action.EVENTS,
    Action.ACCESSES,
    Action.ACCEPT,
    Action.REFUSE,
    Action.OUTCOME,
    Action.SYNTHESIS_PDF,
)
# The answer each one gets, in the order of REQUEST_ACTIONS, and the view of the request they are given.
EXPECTED_ON_REQUEST: dict[str, tuple[tuple[Any, ...], str | None]] = {
    "admin": (("ok", 403, "ok", "ok", 403, 403, 403, 404), "anonymised"),
    "operator": (("ok", "ok", "ok", 403, 403, 403, 403, "ok"), "full"),
    "coordinator": (("ok", "ok", "ok", "ok", 403, 403, 403, 404), "anonymised"),
    "member": ((404, 404, 404, 404, "ok", "ok", 403, 404), None),
    "offered": (("ok", 403, 403, 403, "ok", "ok", 403, 404), "anonymised"),
    "treating": (("ok", 403, 403, 403, "ok", "ok", 403, "ok"), "full"),
    "winner": (("ok", 403, 403, 403, "ok", "ok", "ok", "ok"), "full"),
    "operator_b": ((404,) * 8, None),
    "coordinator_b": ((404,) * 8, None),
    "physician_b": ((404,) * 8, None),
    "owner": (("ok", "ok", 403, 403, 403, 403, 403, 404), "full"),  # cancels their own; the state decides when
    "requester": ((404,) * 8, None),
}
COMMUNITY_ACTIONS = (Action.OPEN, Action.MANAGE_COMMUNITY, Action.CREATE_COMMUNITY)
EXPECTED_ON_COMMUNITY_A: dict[str, tuple[Any, ...]] = {
    "admin": (403, "ok", "ok"),
    "operator": ("ok", 403, 403),
    "coordinator": ("ok", "ok", 403),
    "member": (403, 403, 403),
    "operator_b": (422, 404, 403),
    "coordinator_b": (422, 404, 403),
}


def answer(who: str, action: Action, **where: Any) -> Any:
    try:
        policy.require(USERS[who], action, **where)
    except Problem as exc:
        return exc.code
    return "ok"


@pytest.mark.parametrize("who", sorted(EXPECTED_ON_REQUEST))
def test_the_table_on_a_request_of_each_role_of_this_community_or_another(who: str) -> None:
    answers, view = EXPECTED_ON_REQUEST[who]
    offered = who == "offered"
    got = tuple(answer(who, action, request=REQUEST, offered=offered) for action in REQUEST_ACTIONS)
    assert got == answers
    held = policy.standing(USERS[who], REQUEST, offered=offered)
    assert policy.view_of(held) == view
    assert all(
        policy.allows(USERS[who], action, REQUEST, offered=offered) == (expected == "ok")
        for action, expected in zip(REQUEST_ACTIONS, answers, strict=True)
    )


@pytest.mark.parametrize("who", sorted(EXPECTED_ON_COMMUNITY_A))
def test_the_table_on_a_community(who: str) -> None:
    got = tuple(answer(who, action, community_id=None if action is Action.CREATE_COMMUNITY else A) for action in COMMUNITY_ACTIONS)
    assert got == EXPECTED_ON_COMMUNITY_A[who]


def test_lists_and_pages_follow_the_same_table() -> None:
    assert policy.communities_for(USERS["admin"], Action.LIST) is None
    assert policy.communities_for(USERS["operator"], Action.LIST) == [A]
    assert policy.communities_for(USERS["coordinator_b"], Action.MANAGE_COMMUNITY) == [B]
    assert policy.communities_for(USERS["operator"], Action.MANAGE_COMMUNITY) == []
    with pytest.raises(Problem) as refused:
        policy.require_somewhere(USERS["member"], Action.LIST)
    assert refused.value.code == 403
    assert [role for role in ("admin", "coordinator", "operator", "physician") if policy.role_may(role, Action.LIST)] == [
        "admin",
        "coordinator",
        "operator",
    ]
    assert [
        role for role in ("admin", "coordinator", "operator", "physician") if policy.role_may(role, Action.MANAGE_COMMUNITY)
    ] == ["admin", "coordinator"]
    assert policy.role_may("physician", Action.ACCEPT) and not policy.role_may("admin", Action.ACCEPT)


def test_standing_asks_whether_it_was_offered_only_when_it_matters() -> None:
    asked: list[int] = []

    def offered() -> bool:
        asked.append(1)
        return True

    assert policy.standing(USERS["operator"], REQUEST, offered=offered) == {policy.Standing.OPERATOR}
    assert policy.standing(USERS["treating"], REQUEST, offered=offered) == {policy.Standing.MEMBER, policy.Standing.TREATING}
    assert asked == []
    assert policy.Standing.OFFERED in policy.standing(USERS["offered"], REQUEST, offered=offered)
    assert asked == [1]


# --- Every full view on the API and the pages leaves a line in the trail ----------------------------------------


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    return {
        "community": community,
        "admin": make.admin(),
        "operator": make.member(community, "operator"),
        "coordinator": make.member(community, "coordinator"),
        "physician": make.member(community, "physician"),
        "other": make.member(community, "physician"),
    }


def trail(request_id: int) -> list[tuple[int, str]]:
    db.session.expire_all()
    return [
        (r.user_id, r.what)
        for r in db.session.scalars(select(AccessRecord).where(AccessRecord.request_id == request_id).order_by(AccessRecord.id))
    ]


def signed_in(app: Any, who: Any) -> PageClient:
    client = PageClient(app)
    response = client.sign_in(getattr(who, "user", who).login)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def test_an_idempotent_replay_records_one_read_the_first_answer_none(make: Any, world: dict[str, Any]) -> None:
    body = make.request_body(world["community"])
    headers = {"Idempotency-Key": "appel-42"}
    first = make.call("POST", "/requests", world["operator"], json=body, headers=dict(headers))
    assert first.status_code == 201
    assert trail(first.json["id"]) == []
    again = make.call("POST", "/requests", world["operator"], json=body, headers=dict(headers))
    assert again.status_code == 201 and again.json["id"] == first.json["id"]
    assert again.json["patient"]["last_name"] == "Martin"
    assert trail(first.json["id"]) == [(world["operator"].id, "request")]


def test_the_console_list_live_list_and_detail_record_their_reads(app: Any, make: Any, world: dict[str, Any]) -> None:
    opened = make.open(world["operator"], world["community"])
    console = signed_in(app, world["operator"])
    assert "MARTIN" in console.get("/console").get_data(as_text=True)
    assert trail(opened["id"]) == [(world["operator"].id, "list")]
    live = console.get("/console/live").json["requests"]
    assert [row["patient"] for row in live] == ["Lucie MARTIN"]
    assert console.get(f"/console/demandes/{opened['id']}").status_code == 200
    assert trail(opened["id"]) == [
        (world["operator"].id, "list"),
        (world["operator"].id, "list"),
        (world["operator"].id, "request"),
    ]


def test_the_phone_pages_record_the_treating_gp_and_the_winner_not_the_offered(
    app: Any, make: Any, clock: Any, world: dict[str, Any]
) -> None:
    gp, other = world["physician"], world["other"]
    opened = make.open(world["operator"], world["community"], treating=gp)
    treating = signed_in(app, gp)
    assert "Martin" in treating.get(f"/m/requests/{opened['id']}").get_data(as_text=True)
    assert treating.get("/m/").status_code == 200
    # The offers list names no patient (it may be kept offline on the phone): only the request page records.
    assert trail(opened["id"]) == [(gp.user.id, "request")]
    clock.advance(seconds=3600)
    make.tick()
    offered = signed_in(app, other)
    assert "Martin" not in offered.get(f"/m/requests/{opened['id']}").get_data(as_text=True)
    assert offered.get("/m/").status_code == 200
    assert len(trail(opened["id"])) == 1  # anonymised: nothing to record
    assert make.accept(other, opened["id"]).status_code == 200
    assert "Martin" in offered.get(f"/m/requests/{opened['id']}").get_data(as_text=True)
    assert trail(opened["id"])[1:] == [(other.user.id, "accept"), (other.user.id, "request")]


def test_the_synthesis_pdf_records_its_read(make: Any, world: dict[str, Any]) -> None:
    opened = make.open(world["operator"], world["community"], treating=world["physician"])
    assert make.accept(world["physician"], opened["id"]).status_code == 200
    seen = make.call(
        "POST",
        f"/requests/{opened['id']}/outcome",
        world["physician"],
        json={"outcome": "seen", "synthesis": "Otite moyenne aiguë, amoxicilline 6 jours."},
    )
    assert seen.status_code == 200, seen.json
    before = len(trail(opened["id"]))
    pdf = make.call("GET", f"/requests/{opened['id']}/synthesis.pdf", world["operator"])
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert trail(opened["id"])[before:] == [(world["operator"].id, "synthesis_pdf")]
    assert make.call("GET", f"/requests/{opened['id']}/synthesis.pdf", world["other"]).status_code == 404
    assert len(trail(opened["id"])) == before + 1


def test_the_admin_cancels_neither_through_the_api_nor_through_the_console(app: Any, make: Any, world: dict[str, Any]) -> None:
    opened = make.open(world["operator"], world["community"])
    api = make.call("POST", f"/requests/{opened['id']}/cancel", world["admin"], json={"reason": "test"})
    assert api.status_code == 403
    console = signed_in(app, world["admin"])
    page = console.get(f"/console/demandes/{opened['id']}")
    assert page.status_code == 200 and f"/console/demandes/{opened['id']}/annuler" not in page.get_data(as_text=True)
    refused = console.post(f"/console/demandes/{opened['id']}/annuler", {"reason": "Le patient a trouvé un RDV"})
    assert refused.status_code == 403
    db.session.expire_all()
    assert db.session.get(Request, opened["id"]).state == opened["state"]
