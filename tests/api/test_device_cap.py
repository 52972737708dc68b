"""Issue 23, point 11: at most 10 devices per physician; an 11th replaces the one a push reached least lately."""

from __future__ import annotations

from typing import Any

from dispatch.communities.service import MAX_DEVICES


def test_an_eleventh_device_replaces_the_least_recently_reached(make: Any, clock: Any, ports: Any) -> None:
    community = make.community()
    physician = make.member(community, "physician")
    ids = []
    for n in range(MAX_DEVICES):
        created = make.call("POST", "/me/devices", physician, json={"platform": "android", "token": f"fcm-token-{n:04d}"})
        assert created.status_code == 201
        ids.append(created.json["id"])
        clock.advance(seconds=1)
    # A push reached the first one lately: it is kept, the second (registered next, never reached) goes.
    from dispatch.communities.models import Device
    from dispatch.db import db

    db.session.get(Device, ids[0]).last_success_at = clock.now()
    db.session.commit()
    clock.advance(seconds=1)
    eleventh = make.call("POST", "/me/devices", physician, json={"platform": "android", "token": "fcm-token-eleven"})
    assert eleventh.status_code == 201
    listed = make.call("GET", "/me/devices", physician).json
    assert len(listed) == MAX_DEVICES
    assert {d["id"] for d in listed} == {*ids[:1], *ids[2:], eleventh.json["id"]}
    # Registering the same token again is no new device: nothing else goes.
    again = make.call("POST", "/me/devices", physician, json={"platform": "android", "token": "fcm-token-eleven"})
    assert again.status_code == 200
    assert len(make.call("GET", "/me/devices", physician).json) == MAX_DEVICES
    # Another physician's devices are untouched.
    other = make.member(community, "physician")
    assert make.call("POST", "/me/devices", other, json={"platform": "android", "token": "fcm-token-other"}).status_code == 201
    assert len(make.call("GET", "/me/devices", physician).json) == MAX_DEVICES
