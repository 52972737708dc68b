"""No enumeration across communities, no silent device takeover (issue 14, point 12)."""

from __future__ import annotations

from typing import Any

from dispatch.communities.models import Device
from dispatch.db import db
from tests.conftest import luhn_rpps


def _member(make: Any, coordinator: Any, community: Any, **fields: Any) -> Any:
    body = {"role": "operator", "login": "nouveau-venu", "password": "correct horse battery", "name": "Nouveau Venu", **fields}
    return make.call("POST", f"/communities/{community.id}/members", coordinator, json=body)


def test_a_coordinator_cannot_tell_which_login_or_rpps_exists_in_another_community(make: Any, world: dict[str, Any]) -> None:
    a, b = world["a"], world["b"]
    by_login = _member(make, a["coordinator"], a["community"], login=b["operator"].login)
    physician = {"role": "physician", "kind": "titulaire", "rpps": b["physician"].rpps}
    by_rpps = _member(make, a["coordinator"], a["community"], **physician)
    for response in (by_login, by_rpps):
        assert response.status_code == 409
        assert response.json["code"] == "member_unavailable"
        assert "errors" not in response.json and b["community"].name not in response.get_data(as_text=True)
    assert by_login.json == by_rpps.json  # the same answer: which of the two is taken is not told
    # In the coordinator's own community, they see their members anyway: the field is named.
    own = _member(make, a["coordinator"], a["community"], login=a["operator"].login)
    assert own.status_code == 409 and own.json["code"] == "login_taken"
    fresh = _member(make, a["coordinator"], a["community"], role="physician", kind="titulaire", rpps=luhn_rpps(99_001))
    assert fresh.status_code == 201


def test_the_roster_import_answers_the_same_generic_line(app: Any, make: Any, world: dict[str, Any]) -> None:
    from dispatch.communities import membership

    a, b = world["a"], world["b"]
    members = [{"role": "operator", "login": b["operator"].login, "password": "correct horse battery", "name": "X"}]
    try:
        membership.import_members(
            community=a["community"], members=members, now=make.clock.now(), ph=app.extensions["dispatch"].hasher
        )
    except membership.RosterError as exc:
        assert exc.errors == {0: membership.UNAVAILABLE[1]}
    else:
        raise AssertionError("the roster was imported")


def test_registering_another_physicians_push_token_is_refused(make: Any, world: dict[str, Any]) -> None:
    mine, other = world["a"]["physician"], world["a"]["other"]
    device = make.device(mine, token="fcm-token-of-the-treating-gp")
    taken = make.call("POST", "/me/devices", other, json={"platform": "android", "token": "fcm-token-of-the-treating-gp"})
    assert taken.status_code == 409 and taken.json["code"] == "device_taken"
    db.session.expire_all()
    assert db.session.get(Device, device.id).physician_id == mine.id
    again = make.call("POST", "/me/devices", mine, json={"platform": "android", "token": "fcm-token-of-the-treating-gp"})
    assert again.status_code == 200 and again.json["id"] == device.id
