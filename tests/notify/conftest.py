"""Fixtures for end-to-end delivery: the app wired to real firebase-admin and twilio clients on local peers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from dispatch import create_app
from dispatch.notify.inbox import Recorder
from tests.conftest import TEST_SETTINGS, Builders, FakeClock, real_ports, serving
from tests.peers.fcm import FcmPeer
from tests.peers.guard import forbid_outbound
from tests.peers.twilio import TwilioPeer

PROJECT = "snp-test"
SENDER = "+33700000000"
PUBLIC_URL = "https://snp.example.fr"


@dataclass
class Live:
    """The wired app, its builders, and the peers standing in for FCM and Twilio."""

    app: Any
    make: Builders
    fcm: FcmPeer
    twilio: TwilioPeer
    clock: FakeClock

    @property
    def runtime(self) -> Any:
        return self.app.extensions["dispatch"]


def live_settings(database_url: str, fcm: FcmPeer, twilio: TwilioPeer) -> dict[str, Any]:
    """Return the settings selecting FCM and Twilio, both pointed at the local peers."""
    return {
        **TEST_SETTINGS,
        "DISPATCH_DATABASE_URL": database_url,
        "DISPATCH_PUSH_BACKEND": "fcm",
        "DISPATCH_FCM_URL": fcm.url,
        "DISPATCH_FCM_PROJECT": PROJECT,
        "DISPATCH_SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "DISPATCH_SMS_FROM": SENDER,
        "DISPATCH_TWILIO_URL": twilio.url,
        "DISPATCH_PUBLIC_URL": PUBLIC_URL,
    }


@pytest.fixture
def fcm_peer() -> Iterator[FcmPeer]:
    with FcmPeer() as running:
        yield running


@pytest.fixture
def twilio_peer() -> Iterator[TwilioPeer]:
    with TwilioPeer() as running:
        yield running


@pytest.fixture
def live(
    database_url: str, clock: FakeClock, fcm_peer: FcmPeer, twilio_peer: TwilioPeer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Live]:
    """The app built by its factory with DISPATCH_PUSH_BACKEND=fcm and DISPATCH_SMS_BACKEND=twilio."""
    forbid_outbound(monkeypatch)
    settings = live_settings(database_url, fcm_peer, twilio_peer)
    # The real adapters, dated by the fake clock; secure messaging is the synthesis suite's business.
    ports = real_ports(settings, clock, mail=Recorder())
    application = create_app(settings, clock=clock, ports=ports)
    with serving(application):
        try:
            yield Live(application, Builders(application, application.test_client(), clock), fcm_peer, twilio_peer, clock)
        finally:
            ports.close()
