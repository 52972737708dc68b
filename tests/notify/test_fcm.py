"""The FCM adapter, with the real firebase-admin, against the local FCM peer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from firebase_admin import messaging

from dispatch.notify.fcm import SENDERS, FcmPush
from dispatch.notify.ports import Outcome, PushMessage
from dispatch.notify.retry_after import retry_after_s
from tests.peers.fcm import QUOTA_EXCEEDED, UNAVAILABLE, FcmPeer
from tests.peers.guard import forbid_outbound

NOW = datetime(2026, 11, 23, 14, 40, tzinfo=UTC)
EXPIRES = NOW + timedelta(minutes=60)
PROJECT = "snp-test"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_outbound(monkeypatch)


@pytest.fixture
def peer() -> Iterator[FcmPeer]:
    with FcmPeer() as running:
        yield running


@pytest.fixture
def push(peer: FcmPeer) -> Iterator[FcmPush]:
    adapter = FcmPush(None, PROJECT, peer.url, timeout=5.0, clock=lambda: NOW)
    yield adapter
    adapter.close()


def offer(tokens: tuple[str, ...] = ("tok-a",)) -> PushMessage:
    return PushMessage(
        tokens=tokens,
        data={
            "type": "offer",
            "request_id": "42",
            "phase": "exclusive",
            "motive": "fièvre",
            "city": "Lyon",
            "expires_at": "2026-11-23T15:40:00Z",
        },
        collapse_key="request-42",
        expires_at=EXPIRES,
        title="Nouvelle demande de soins non programmés",
        body="Lyon — fièvre",
    )


def withdrawal(tokens: tuple[str, ...] = ("tok-a",)) -> PushMessage:
    return PushMessage(
        tokens=tokens,
        data={"type": "offer_withdrawn", "request_id": "42", "reason": "accepted"},
        collapse_key="request-42",
        expires_at=EXPIRES,
        urgent=False,
    )


def test_offer_reaches_the_peer_with_the_exact_mapping(peer: FcmPeer, push: FcmPush) -> None:
    result = push.send(offer())

    assert result.outcome is Outcome.SENT
    assert result.sent_tokens == ("tok-a",)
    [call] = peer.calls
    assert call.project == PROJECT
    assert call.message == {
        "token": "tok-a",
        "data": offer().data,
        "notification": {"title": "Nouvelle demande de soins non programmés", "body": "Lyon — fièvre"},
        "android": {
            "collapse_key": "request-42",
            "priority": "high",
            "ttl": "3600s",
            "notification": {"tag": "request-42", "sound": "default"},
        },
        "apns": {
            "headers": {
                "apns-collapse-id": "request-42",
                "apns-expiration": str(int(EXPIRES.timestamp())),
                "apns-priority": "10",
                "apns-push-type": "alert",
            },
            "payload": {"aps": {"sound": "default", "interruption-level": "time-sensitive"}},
        },
    }


def test_withdrawal_is_data_only_and_background(peer: FcmPeer, push: FcmPush) -> None:
    result = push.send(withdrawal())

    assert result.outcome is Outcome.SENT
    [message] = peer.messages
    assert "notification" not in message
    assert message["data"] == {"type": "offer_withdrawn", "request_id": "42", "reason": "accepted"}
    assert message["android"] == {"collapse_key": "request-42", "priority": "normal", "ttl": "3600s"}
    assert message["apns"] == {
        "headers": {
            "apns-collapse-id": "request-42",
            "apns-expiration": str(int(EXPIRES.timestamp())),
            "apns-priority": "5",
            "apns-push-type": "background",
        },
        "payload": {"aps": {"content-available": 1}},
    }


def test_ttl_is_never_negative_and_absent_without_expiry(peer: FcmPeer, push: FcmPush) -> None:
    late = PushMessage(tokens=("t1",), data={}, collapse_key="c", expires_at=NOW - timedelta(seconds=5))
    endless = PushMessage(tokens=("t2",), data={}, collapse_key="c", expires_at=None)

    push.send(late)
    push.send(endless)

    first, second = peer.messages
    assert first["android"]["ttl"] == "0s"
    assert "ttl" not in second["android"]
    assert "apns-expiration" not in second["apns"]["headers"]


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the FCM calls firebase-admin makes, and the most of them in flight at once."""
    seen = {"calls": 0, "in_flight": 0, "most_in_flight": 0}
    lock = threading.Lock()
    real_send = messaging.send

    def counting_send(message: messaging.Message, *args: object, **kwargs: object) -> object:
        with lock:
            seen["calls"] += 1
            seen["in_flight"] += 1
            seen["most_in_flight"] = max(seen["most_in_flight"], seen["in_flight"])
        try:
            return real_send(message, *args, **kwargs)
        finally:
            with lock:
                seen["in_flight"] -= 1

    monkeypatch.setattr(messaging, "send", counting_send)
    return seen


def test_many_tokens_go_on_a_bounded_number_of_senders(peer: FcmPeer, push: FcmPush, sends: dict[str, int]) -> None:
    peer.latency_s = 0.005  # calls overlap, as they do against Google
    tokens = tuple(f"tok-{i:04d}" for i in range(1200))

    result = push.send(offer(tokens))

    assert sends["calls"] == 1200
    assert 1 < sends["most_in_flight"] <= SENDERS
    assert result.outcome is Outcome.SENT
    assert set(result.sent_tokens) == set(tokens)
    assert sorted(m["token"] for m in peer.messages) == sorted(tokens)
    assert len(peer.calls) == 1200  # one call per token, nothing retried


def test_unregistered_and_invalid_tokens_are_dead(peer: FcmPeer, push: FcmPush) -> None:
    peer.unregistered.add("gone")
    peer.invalid.add("garbage")

    result = push.send(offer(("ok", "gone", "garbage")))

    assert result.outcome is Outcome.SENT
    assert result.sent_tokens == ("ok",)
    assert set(result.dead_tokens) == {"gone", "garbage"}
    assert result.retry_tokens == ()
    assert "UNREGISTERED=1" in result.detail
    assert "INVALID_ARGUMENT=1" in result.detail


def test_only_dead_tokens_is_permanent(peer: FcmPeer, push: FcmPush) -> None:
    peer.unregistered.add("gone")

    result = push.send(offer(("gone",)))

    assert result.outcome is Outcome.PERMANENT
    assert result.dead_tokens == ("gone",)


def test_unavailable_and_quota_are_transient_then_sent(peer: FcmPeer, push: FcmPush) -> None:
    tokens = ("t1", "t2", "t3", "t4")
    peer.fail_next(2, UNAVAILABLE)
    peer.fail_next(1, QUOTA_EXCEEDED)

    first = push.send(offer(tokens))

    assert first.outcome is Outcome.TRANSIENT
    assert len(first.retry_tokens) == 3
    assert len(first.sent_tokens) == 1
    assert "UNAVAILABLE=2" in first.detail and "QUOTA_EXCEEDED=1" in first.detail
    # firebase-admin retried nothing by itself: exactly one call per token.
    assert len(peer.calls) == 4
    assert all(len(peer.calls_for(t)) == 1 for t in tokens)

    second = push.send(offer(first.retry_tokens))

    assert second.outcome is Outcome.SENT
    assert set(second.sent_tokens) == set(first.retry_tokens)
    assert len(peer.calls) == 7


@pytest.mark.parametrize(
    ("failure", "header", "expected"),
    [
        (UNAVAILABLE, "120", "UNAVAILABLE=1, retry_after=120"),  # Retry-After in seconds
        (UNAVAILABLE, "Mon, 23 Nov 2026 14:45:00 GMT", "UNAVAILABLE=1, retry_after=300"),  # or as a date
        (UNAVAILABLE, None, "UNAVAILABLE=1"),  # nothing said: the outbox's own backoff
        (QUOTA_EXCEEDED, None, "QUOTA_EXCEEDED=1, retry_after=60"),  # over quota: a minute at least
        (QUOTA_EXCEEDED, "10", "QUOTA_EXCEEDED=1, retry_after=60"),
        (QUOTA_EXCEEDED, "600", "QUOTA_EXCEEDED=1, retry_after=600"),
    ],
)
def test_fcm_asking_to_wait_is_carried_to_the_outbox(
    peer: FcmPeer, push: FcmPush, failure: tuple, header: str | None, expected: str
) -> None:
    peer.fail_next(1, failure, retry_after=header)

    result = push.send(offer())

    assert result.outcome is Outcome.TRANSIENT and result.retry_tokens == ("tok-a",)
    assert result.detail == expected
    assert retry_after_s(result.detail) == (int(expected.rpartition("=")[2]) if "retry_after" in expected else None)


def test_the_longest_wait_of_a_push_wins_and_a_sent_token_drops_it(peer: FcmPeer, push: FcmPush) -> None:
    peer.fail_next(1, UNAVAILABLE, retry_after="30")
    peer.fail_next(1, QUOTA_EXCEEDED)

    waiting = push.send(offer(("t1", "t2")))

    assert retry_after_s(waiting.detail) == 60
    peer.fail_next(1, QUOTA_EXCEEDED)
    partly = push.send(offer(("t1", "t2")))
    assert partly.outcome is Outcome.TRANSIENT and len(partly.sent_tokens) == 1  # the outbox keeps what was sent


def test_a_visible_push_that_is_not_urgent_is_quiet(peer: FcmPeer, push: FcmPush) -> None:
    quiet = PushMessage(
        tokens=("tok-a",), data={"type": "info"}, collapse_key="c", expires_at=None, title="Information", body="…", urgent=False
    )

    assert push.send(quiet).outcome is Outcome.SENT
    [message] = peer.messages
    assert message["apns"]["payload"] == {"aps": {"interruption-level": "active"}}
    assert "sound" not in message["android"]["notification"]


def test_unreachable_peer_is_transient() -> None:
    with FcmPeer() as gone:
        url = gone.url
    adapter = FcmPush(None, PROJECT, url, timeout=2.0, clock=lambda: NOW)
    try:
        result = adapter.send(offer(("t1",)))
    finally:
        adapter.close()

    assert result.outcome is Outcome.TRANSIENT
    assert result.retry_tokens == ("t1",)


def test_unauthenticated_mode_sends_no_credentials(peer: FcmPeer, push: FcmPush) -> None:
    push.send(offer())

    [call] = peer.calls
    assert "authorization" not in call.headers
    assert peer.token_requests == 0


def test_service_account_fetches_its_token_from_the_json_token_uri(peer: FcmPeer, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    account = tmp_path / "service-account.json"
    account.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "from-credentials",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "dispatch@from-credentials.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": f"{peer.url}/token",
            }
        )
    )
    adapter = FcmPush(str(account), None, peer.url, clock=lambda: NOW)
    try:
        result = adapter.send(offer())
    finally:
        adapter.close()

    assert result.outcome is Outcome.SENT
    [call] = peer.calls
    assert call.project == "from-credentials"
    assert call.headers["authorization"] == "Bearer peer-access-token"
    assert peer.token_requests == 1


def test_from_config_needs_credentials_or_url_and_project(peer: FcmPeer) -> None:
    with pytest.raises(ValueError, match="DISPATCH_FCM_CREDENTIALS"):
        FcmPush.from_config({"DISPATCH_FCM_URL": peer.url})
    adapter = FcmPush.from_config({"DISPATCH_FCM_URL": peer.url, "DISPATCH_FCM_PROJECT": PROJECT})
    try:
        assert adapter.send(offer()).outcome is Outcome.SENT
    finally:
        adapter.close()


def test_a_batch_of_pushes_shares_the_senders_and_answers_in_order(peer: FcmPeer, push: FcmPush, sends: dict[str, int]) -> None:
    peer.unregistered.add("p2-gone")
    pushes = [offer((f"p{i}-a",)) for i in range(600)]
    pushes[2] = offer(("p2-gone",))
    pushes[3] = withdrawal(("p3-a", "p3-b"))
    pushes[4] = offer(())

    results = push.send_batch(pushes)

    assert sends["calls"] == 600  # 600 tokens; the empty push costs nothing
    assert [r.outcome for r in results[:5]] == [Outcome.SENT, Outcome.SENT, Outcome.PERMANENT, Outcome.SENT, Outcome.PERMANENT]
    assert results[0].sent_tokens == ("p0-a",) and results[599].sent_tokens == ("p599-a",)
    assert results[2].dead_tokens == ("p2-gone",) and results[3].sent_tokens == ("p3-a", "p3-b")
    assert results[4].detail == "no device token"
    assert sorted(m["token"] for m in peer.messages if "notification" not in m) == ["p3-a", "p3-b"]
