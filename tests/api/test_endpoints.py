"""Every endpoint's success path, as a client of the contract sees it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dispatch.notify.ports import PushMessage, SmsMessage


def test_admin_creates_a_community_and_its_members(make: Any) -> None:
    admin = make.admin()
    response = make.call("POST", "/communities", admin, json={"name": "CPTS Val-de-Marne Est"})
    assert response.status_code == 201
    community = response.json
    assert (community["timezone"], community["exclusive_window_s"], community["response_window_s"]) == ("Europe/Paris", 3600, 7200)
    assert make.call("POST", "/communities", admin, json={"name": "CPTS Val-de-Marne Est"}).status_code == 409
    cid = community["id"]
    member = {
        "role": "physician",
        "login": "dr.x",
        "password": "un mot de passe long",
        "name": "Dr X",
        "rpps": "10003456786",
        "kind": "cami",
        "phone": "06 12 34 56 78",
        "mssante": "x@medecin.mssante.fr",
    }
    created = make.call("POST", f"/communities/{cid}/members", admin, json=member)
    assert created.status_code == 201 and created.json["role"] == "physician" and created.json["physician_id"]
    again = make.call("POST", f"/communities/{cid}/members", admin, json=member)
    assert again.status_code == 409 and again.json["code"] == "login_taken"
    bad = make.call("POST", f"/communities/{cid}/members", admin, json={**member, "login": "dr.y", "rpps": "10003456789"})
    assert bad.status_code == 422 and "rpps" in bad.json["errors"]
    short = make.call("POST", f"/communities/{cid}/members", admin, json={**member, "login": "dr.z", "password": "x"})
    assert short.status_code == 422 and "password" in short.json["errors"]
    members = make.call("GET", f"/communities/{cid}/members", admin).json
    assert [m["login"] for m in members] == ["dr.x"] and members[0]["phone"] == "+33612345678"
    assert "password" not in str(members) and "password_hash" not in str(members)

    patched = make.call("PATCH", f"/communities/{cid}", admin, json={"exclusive_window_s": 1800})
    assert patched.status_code == 200 and patched.json["exclusive_window_s"] == 1800
    invalid = make.call("PATCH", f"/communities/{cid}", admin, json={"exclusive_window_s": 9000})
    assert invalid.status_code == 422


def test_members_list_is_paginated_with_a_link(make: Any) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    for _ in range(4):
        make.member(community, "operator")
    first = make.call("GET", f"/communities/{community.id}/members?limit=2", coordinator)
    assert len(first.json) == 2 and 'rel="next"' in first.headers["Link"]
    next_url = first.headers["Link"].split(">")[0].lstrip("<")
    second = make.client.get(next_url, headers=make.headers(coordinator))
    assert len(second.json) == 2 and {m["user_id"] for m in first.json}.isdisjoint(m["user_id"] for m in second.json)


def test_me_devices_and_availability(make: Any, clock: Any) -> None:
    community = make.community()
    physician = make.member(community, "physician", kind="remplacant")
    me = make.call("GET", "/me", physician).json
    assert me["role"] == "physician" and me["physician"]["kind"] == "remplacant"
    assert me["communities"] == [{"id": community.id, "name": community.name, "role": "physician"}]
    created = make.call("POST", "/me/devices", physician, json={"platform": "android", "token": "fcm-token-abcdef"})
    assert created.status_code == 201
    again = make.call("POST", "/me/devices", physician, json={"platform": "android", "token": "fcm-token-abcdef"})
    assert again.status_code == 200 and again.json["id"] == created.json["id"]
    assert make.call("DELETE", f"/me/devices/{created.json['id']}", physician).status_code == 204
    assert make.call("DELETE", f"/me/devices/{created.json['id']}", physician).status_code == 404

    until = (clock.now() + timedelta(hours=2)).isoformat()
    off = make.call("PUT", "/me/availability", physician, json={"available": False, "until": until})
    assert off.status_code == 200 and off.json["available"] is False
    assert make.call("GET", "/me", physician).json["physician"]["available"] is False
    clock.advance(hours=2)
    assert make.call("GET", "/me", physician).json["physician"]["available"] is True
    assert make.call("PUT", "/me/availability", physician, json={"available": "yes"}).status_code == 422


def test_unavailable_members_are_not_offered_and_an_unavailable_gp_gets_no_exclusive_hour(make: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    away = make.member(community, "physician")
    present = make.member(community, "physician")
    for physician in (gp, away, present):
        make.device(physician, token=f"device-{physician.id}")
    make.call("PUT", "/me/availability", gp, json={"available": False})
    make.call("PUT", "/me/availability", away, json={"available": False})
    opened = make.open(operator, community, treating=gp)
    assert opened["state"] == "community" and opened["exclusive_until"] is None
    make.deliver()
    assert [m.tokens for m in ports["push"].sent] == [(f"device-{present.id}",)]


def test_treating_gp_refusal_opens_the_community_at_once(make: Any, ports: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    other = make.member(community, "physician")
    make.device(other)
    opened = make.open(operator, community, treating=gp)
    clock.advance(minutes=5)
    refused = make.call("POST", f"/requests/{opened['id']}/refuse", gp, json={"reason": "Cabinet complet"})
    assert refused.status_code == 200 and refused.json["state"] == "community"
    assert make.call("POST", f"/requests/{opened['id']}/refuse", gp, json={}).status_code == 200  # harmless twice
    make.deliver()
    assert [m.data["phase"] for m in ports["push"].sent if isinstance(m, PushMessage)] == ["community"]
    # The treating GP changes their mind: still allowed in the community phase.
    assert make.accept(gp, opened["id"]).status_code == 200


def test_expiry_tells_the_operator_and_clears_the_phones(make: Any, ports: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator", phone="+33611111111")
    physician = make.member(community, "physician")
    make.device(physician)
    opened = make.open(operator, community)
    make.deliver()
    clock.advance(seconds=7199)
    assert make.tick() == 0
    clock.advance(seconds=1)
    assert make.tick() == 1
    make.deliver()
    view = make.call("GET", f"/requests/{opened['id']}", operator).json
    assert view["state"] == "expired"
    withdrawn = [m for m in ports["push"].sent if m.data["type"] == "offer_withdrawn"]
    assert len(withdrawn) == 1 and withdrawn[0].data["reason"] == "expired"
    operator_sms = [m for m in ports["sms"].sent if isinstance(m, SmsMessage) and m.to == "+33611111111"]
    assert len(operator_sms) == 1 and "expiré" in operator_sms[0].body
    assert make.call("GET", "/me/offers", physician).json == []


def test_cancel_withdraws_every_offer(make: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    physicians = [make.member(community, "physician") for _ in range(2)]
    for physician in physicians:
        make.device(physician)
    opened = make.open(operator, community)
    cancelled = make.call("POST", f"/requests/{opened['id']}/cancel", operator, json={"reason": "Patient rappelé"})
    assert cancelled.status_code == 200 and cancelled.json["state"] == "cancelled"
    make.deliver()
    # The offers were never sent (cancelled first), the withdrawals were.
    assert sorted(m.data["type"] for m in ports["push"].sent) == ["offer_withdrawn", "offer_withdrawn"]
    assert all(m.data["reason"] == "cancelled" for m in ports["push"].sent)


def test_plan_is_copied_when_the_request_opens(make: Any, clock: Any) -> None:
    admin = make.admin()
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    opened = make.open(operator, community, treating=gp)
    make.call("PATCH", f"/communities/{community.id}", admin, json={"exclusive_window_s": 600, "response_window_s": 1200})
    clock.advance(seconds=600)
    assert make.tick() == 0  # the running request keeps its hour
    later = make.open(operator, community, treating=gp)
    assert later["exclusive_until"] == (clock.now() + timedelta(seconds=600)).isoformat().replace("+00:00", "Z")
    assert opened["exclusive_until"] == "2026-11-23T15:00:00Z"


def test_list_requests_filters_and_sees_only_own_communities(make: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    physician = make.member(community, "physician")
    first = make.open(operator, community)
    second = make.open(operator, community)
    make.accept(physician, second["id"])
    listed = make.call("GET", f"/requests?community_id={community.id}", operator).json
    assert [r["id"] for r in listed] == [second["id"], first["id"]]
    accepted = make.call("GET", "/requests?state=accepted", operator).json
    assert [r["id"] for r in accepted] == [second["id"]]
    assert make.call("GET", "/requests?state=nonsense", operator).status_code == 422


def test_unregistered_treating_gp_is_recorded_and_told(make: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    physician = make.member(community, "physician")
    body = make.request_body(
        community,
        treating_physician={
            "status": "declared",
            "rpps": "10009999999",
            "name": "Dr Hors Plateforme",
            "mssante": "hors.plateforme@medecin.mssante.fr",
        },
    )
    opened = make.call("POST", "/requests", operator, json=body).json
    assert opened["state"] == "community" and opened["treating_physician"]["registered"] is False
    assert opened["treating_physician"]["name"] == "Dr Hors Plateforme"
    make.accept(physician, opened["id"])
    make.deliver()
    assert [m["To"] for m in ports["mail"].sent] == ["hors.plateforme@medecin.mssante.fr"]


def test_a_deactivated_member_can_no_longer_sign_in_nor_be_offered(make: Any, ports: Any) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    operator = make.member(community, "operator")
    leaving = make.member(community, "physician")
    staying = make.member(community, "physician")
    for physician in (leaving, staying):
        make.device(physician, token=f"device-{physician.id}")
    headers = make.headers(leaving)
    assert make.call("DELETE", f"/communities/{community.id}/members/{leaving.user.id}", coordinator).status_code == 204
    assert make.client.get("/api/v1/me", headers=headers).status_code == 401
    signin = make.client.post("/api/v1/auth/token", json={"login": leaving.user.login, "password": "correct horse battery"})
    assert signin.status_code == 403 and signin.json["code"] == "account_disabled"  # told so (issue 14, point 14)
    wrong = make.client.post("/api/v1/auth/token", json={"login": leaving.user.login, "password": "wrong"})
    assert wrong.status_code == 401  # without the password, a deactivated account is an unknown one
    make.open(operator, community)
    make.deliver()
    assert [m.tokens for m in ports["push"].sent] == [(f"device-{staying.id}",)]
    assert make.call("DELETE", f"/communities/{community.id}/members/999999", coordinator).status_code == 404
    assert make.call("DELETE", f"/communities/{community.id}/members/{staying.user.id}", operator).status_code == 403
    other = make.community()
    stranger = make.member(other, "coordinator")
    assert make.call("DELETE", f"/communities/{community.id}/members/{staying.user.id}", stranger).status_code == 404
