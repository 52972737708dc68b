"""Web Push through the factory-built app: a browser's subscription registered over the API, offers and their
withdrawal encrypted to it by the real pywebpush, a gone subscription deleted and replaced by the SMS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from dispatch import create_app
from dispatch.communities.models import Device
from dispatch.db import db
from dispatch.notify.inbox import Recorder
from dispatch.notify.models import OutboxMessage
from tests.conftest import TEST_SETTINGS, Builders, FakeClock, real_ports, serving
from tests.peers.guard import forbid_outbound
from tests.peers.webpush import WebPushPeer

PATIENT_IDENTITY = ("Lucie", "Martin", "1988-04-02", "+33612345678", "12 34 56 78")


@pytest.fixture
def peer(clock: FakeClock) -> Iterator[WebPushPeer]:
    with WebPushPeer(clock=clock.now) as running:
        yield running


@pytest.fixture
def app_webpush(
    database_url: str, clock: FakeClock, peer: WebPushPeer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> Iterator[Any]:
    """The app with DISPATCH_WEBPUSH_BACKEND=webpush, allowed to post to the local peer only."""
    forbid_outbound(monkeypatch)
    host = urlsplit(peer.url).hostname
    settings = {
        **TEST_SETTINGS,
        "DISPATCH_DATABASE_URL": database_url,
        "DISPATCH_WEBPUSH_BACKEND": "webpush",
        "DISPATCH_WEBPUSH_HOSTS": f"{host},.push.services.mozilla.com",
        "DISPATCH_PUBLIC_URL": "https://snp.example.fr",
    }
    ports = real_ports(settings, clock, push=Recorder(), sms=Recorder(), mail=Recorder())
    application = create_app(settings, clock=clock, ports=ports)
    with serving(application):
        try:
            yield application
        finally:
            ports.close()


@pytest.fixture
def web(app_webpush: Any, clock: FakeClock) -> Builders:
    return Builders(app_webpush, app_webpush.test_client(), clock)


def subscribe(web: Builders, physician: Any, subscription: dict[str, Any]) -> Any:
    return web.call("POST", "/me/devices", physician, json={"platform": "webpush", "subscription": subscription})


def test_an_offer_reaches_the_browser_encrypted_and_its_withdrawal_replaces_it(
    web: Builders, peer: WebPushPeer, app_webpush: Any
) -> None:
    community = web.community()
    operator = web.member(community, "operator")
    first, second = web.member(community, "physician"), web.member(community, "physician")
    browsers = {first.id: peer.subscribe(), second.id: peer.subscribe()}
    for physician in (first, second):
        assert subscribe(web, physician, browsers[physician.id].info).status_code == 201
    assert subscribe(web, first, browsers[first.id].info).status_code == 200  # the same browser again

    opened = web.open(operator, community)
    web.deliver()
    [offer] = peer.deliveries_to(browsers[first.id])
    assert offer.errors == () and offer.claims is not None
    assert offer.claims["aud"] == peer.url and offer.vapid_key == app_webpush.extensions["dispatch"].ports.vapid_public_key
    assert offer.payload is not None and offer.payload["type"] == "offer"
    assert offer.payload["request_id"] == str(opened["id"]) and offer.payload["motive"] == "ent"
    assert offer.headers["urgency"] == "high" and offer.headers["topic"] == f"request-{opened['id']}"
    assert 0 < int(offer.headers["ttl"]) <= 7200  # seconds to the current deadline
    assert all(secret not in str(offer.payload) for secret in PATIENT_IDENTITY)

    assert web.accept(second, opened["id"]).status_code == 200
    web.deliver()
    [_, withdrawal] = peer.deliveries_to(browsers[first.id])
    assert withdrawal.payload is not None and withdrawal.payload["type"] == "offer_withdrawn"
    assert withdrawal.headers["topic"] == offer.headers["topic"]  # replaces a pending offer at the push service
    assert withdrawal.headers["urgency"] == "normal"

    listed = web.call("GET", "/me/devices", first).json
    assert [(d["platform"], d["last_success_at"] is not None) for d in listed] == [("webpush", True)]


def test_a_gone_subscription_is_deleted_and_the_offer_goes_by_sms(web: Builders, peer: WebPushPeer, app_webpush: Any) -> None:
    community = web.community()
    operator = web.member(community, "operator")
    physician = web.member(community, "physician")
    browser = peer.subscribe()
    assert subscribe(web, physician, browser.info).status_code == 201
    peer.answer(browser, 410)

    web.open(operator, community)
    web.deliver()
    assert len(peer.deliveries_to(browser)) == 1
    assert db.session.scalars(select(Device).where(Device.physician_id == physician.id)).all() == []
    [push] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "offer")).all()
    assert push.status == "dead_token"
    [sms] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "offer_sms")).all()
    assert sms.status == "sent" and sms.address == physician.user.phone


def test_a_busy_push_service_is_asked_again_after_its_retry_after(web: Builders, peer: WebPushPeer, clock: FakeClock) -> None:
    community = web.community()
    operator = web.member(community, "operator")
    physician = web.member(community, "physician")
    browser = peer.subscribe()
    assert subscribe(web, physician, browser.info).status_code == 201
    peer.answer(browser, 429, retry_after="120")
    web.open(operator, community)
    web.deliver()
    [push] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "offer")).all()
    assert push.status == "pending"
    assert (push.next_attempt_at - clock.now()).total_seconds() >= 120
    clock.advance(seconds=60)
    web.deliver()
    assert len(peer.deliveries_to(browser)) == 1  # not asked again before the delay it gave
    peer.answer(browser, 201)
    clock.advance(seconds=61)
    web.deliver()
    assert len(peer.deliveries_to(browser)) == 2
    db.session.refresh(push)
    assert push.status == "sent"


@pytest.mark.parametrize(
    "endpoint, message",
    [
        ("https://evil.example/push/abc", "non autorisée"),
        ("http://updates.push.services.mozilla.com/wpush/v2/abc", "https"),
        # issue 23 point 7: a host under .push.apple.com for urllib.parse, 169.254.169.254 for the sender
        ("https://169.254.169.254\\.push.apple.com/push/abc", "non autorisée"),
        ("https://web.push.apple.com%2f@169.254.169.254/push/abc", "non autorisée"),
        ("https://user@web.push.apple.com/push/abc", "non autorisée"),
    ],
)
def test_a_subscription_elsewhere_is_refused_and_never_fetched(
    web: Builders, peer: WebPushPeer, endpoint: str, message: str
) -> None:
    community = web.community()
    physician = web.member(community, "physician")
    info = {**peer.subscribe().info, "endpoint": endpoint}
    response = subscribe(web, physician, info)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert message in " ".join(response.json["errors"]["subscription.endpoint"])
    assert db.session.scalars(select(Device)).all() == []


def test_the_key_is_public_and_a_webpush_device_needs_its_subscription(web: Builders) -> None:
    key = web.client.get("/api/v1/webpush/key")
    assert key.status_code == 200 and len(key.json["public_key"]) == 87  # 65 bytes, base64url unpadded
    community = web.community()
    physician = web.member(community, "physician")
    missing = web.call("POST", "/me/devices", physician, json={"platform": "webpush"})
    assert missing.status_code == 422 and "subscription" in str(missing.json["errors"])
    operator = web.member(community, "operator")
    assert web.call("GET", "/me/devices", operator).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "ios", "token": "fcm-token-123", "subscription": {"endpoint": "x" * 8, "keys": {"p256dh": "a", "auth": "b"}}},
        {
            "platform": "webpush",
            "subscription": {"endpoint": "x" * 8, "expirationTime": 2.5e-42, "keys": {"p256dh": "a", "auth": "b"}},
        },
    ],
)
def test_a_device_body_mixing_kinds_or_types_is_refused(web: Builders, body: dict[str, Any]) -> None:
    physician = web.member(web.community(), "physician")
    response = web.call("POST", "/me/devices", physician, json=body)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert db.session.scalars(select(Device)).all() == []
