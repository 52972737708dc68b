"""The Web Push adapter, with the real pywebpush encryption, against the local push-service peer."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt

from dispatch.notify import webpush
from dispatch.notify.ports import Outcome, PushMessage
from dispatch.notify.retry_after import MAX_RETRY_AFTER_S, parse_retry_after, retry_after_s
from dispatch.notify.vapid import KEY_FILE, VapidKey, load_or_create_vapid_key
from dispatch.notify.webpush import WebPushPush, endpoint_allowed, topic, validate_subscription
from tests.peers.guard import forbid_outbound
from tests.peers.webpush import Subscriber, WebPushPeer, b64url

NOW = datetime(2026, 11, 23, 14, 40, tzinfo=UTC)
EXPIRES = NOW + timedelta(minutes=60)
SUBJECT = "mailto:snp-dispatch@cpts.mssante.fr"
PATIENT_FIELDS = {
    "first_name",
    "last_name",
    "birth_date",
    "phone",
    "patient_first_name",
    "patient_last_name",
    "patient_birth_date",
    "patient_phone",
}


class Clock:
    """A clock the test moves by hand; the adapter and the peer read the same one."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_outbound(monkeypatch)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def peer(clock: Clock) -> Iterator[WebPushPeer]:
    with WebPushPeer(clock=clock) as running:
        yield running


@pytest.fixture
def key() -> VapidKey:
    return VapidKey(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def push(key: VapidKey, clock: Clock) -> Iterator[WebPushPush]:
    adapter = WebPushPush(key, SUBJECT, "127.0.0.1", clock=clock, timeout=5.0)
    yield adapter
    adapter.close()


def offer(*subscribers: Subscriber, collapse_key: str = "request-42") -> PushMessage:
    return PushMessage(
        tokens=tuple(s.token for s in subscribers),
        data={
            "type": "offer",
            "request_id": "42",
            "phase": "exclusive",
            "motive": "fièvre",
            "city": "Lyon",
            "expires_at": "2026-11-23T15:40:00Z",
        },
        collapse_key=collapse_key,
        expires_at=EXPIRES,
        title="Nouvelle demande de soins non programmés",
        body="Lyon — fièvre",
    )


def withdrawal(*subscribers: Subscriber) -> PushMessage:
    return PushMessage(
        tokens=tuple(s.token for s in subscribers),
        data={"type": "offer_withdrawn", "request_id": "42", "reason": "accepted"},
        collapse_key="request-42",
        expires_at=EXPIRES,
        urgent=False,
    )


# --- On the wire --------------------------------------------------------------------------------------------------


def test_offer_is_decrypted_by_the_browser_keys_with_exact_headers(
    peer: WebPushPeer, push: WebPushPush, key: VapidKey, clock: Clock
) -> None:
    browser = peer.subscribe()
    clock.now = NOW + timedelta(seconds=10)

    result = push.send(offer(browser))

    assert result.outcome is Outcome.SENT
    assert result.sent_tokens == (browser.token,)
    assert result.detail == ""
    [delivery] = peer.deliveries
    assert delivery.errors == ()
    assert delivery.status == 201
    assert delivery.payload == {**offer(browser).data, "title": "Nouvelle demande de soins non programmés", "body": "Lyon — fièvre"}
    assert not PATIENT_FIELDS & set(delivery.payload)
    assert delivery.headers["ttl"] == "3590"  # to the deadline, from the injected clock
    assert delivery.headers["urgency"] == "high"
    assert delivery.headers["topic"] == "request-42"
    assert delivery.headers["content-encoding"] == "aes128gcm"
    assert delivery.headers["authorization"].startswith("vapid t=")
    assert ", k=" in delivery.headers["authorization"]
    assert delivery.vapid_key == key.public_key_b64url
    assert delivery.claims == {"aud": peer.url, "exp": int((clock.now + timedelta(hours=12)).timestamp()), "sub": SUBJECT}


def test_withdrawal_is_normal_urgency_under_the_same_topic(peer: WebPushPeer, push: WebPushPush) -> None:
    browser = peer.subscribe()

    push.send(offer(browser))
    push.send(withdrawal(browser))

    first, second = peer.deliveries
    assert second.errors == ()
    assert second.payload == {"type": "offer_withdrawn", "request_id": "42", "reason": "accepted"}
    assert second.headers["urgency"] == "normal"
    assert second.headers["topic"] == first.headers["topic"] == "request-42"


def test_ttl_is_never_negative_and_has_a_default_without_expiry(peer: WebPushPeer, push: WebPushPush, clock: Clock) -> None:
    browser = peer.subscribe()
    clock.now = EXPIRES + timedelta(seconds=1)
    push.send(offer(browser))
    no_expiry = PushMessage(
        tokens=(browser.token,), data={"type": "offer", "request_id": "7"}, collapse_key="request-7", expires_at=None
    )
    push.send(no_expiry)

    assert [d.headers["ttl"] for d in peer.deliveries] == ["0", str(webpush.DEFAULT_TTL_S)]
    assert all(d.errors == () for d in peer.deliveries)


def test_vapid_token_is_signed_again_before_it_expires(peer: WebPushPeer, push: WebPushPush, clock: Clock) -> None:
    browser = peer.subscribe()
    push.send(offer(browser))
    clock.now = NOW + timedelta(hours=10, minutes=59, seconds=59)
    push.send(offer(browser))  # still 1 h 0 min 1 s left: reused
    clock.now = NOW + timedelta(hours=11)
    push.send(offer(browser))  # 1 h left: signed again

    exps = [d.claims["exp"] for d in peer.deliveries if d.claims]
    assert exps == [int((NOW + timedelta(hours=12)).timestamp())] * 2 + [int((NOW + timedelta(hours=23)).timestamp())]
    assert all(d.errors == () for d in peer.deliveries)


@pytest.mark.parametrize("status", [404, 410])
def test_gone_subscription_is_dead(peer: WebPushPeer, push: WebPushPush, status: int) -> None:
    gone, alive = peer.subscribe(), peer.subscribe()
    peer.answer(gone, status)

    result = push.send(offer(gone, alive))

    assert result.outcome is Outcome.SENT
    assert result.dead_tokens == (gone.token,)
    assert result.sent_tokens == (alive.token,)
    assert result.detail == f"http_{status}=1"


def test_only_dead_subscriptions_is_permanent(peer: WebPushPeer, push: WebPushPush) -> None:
    gone = peer.subscribe()
    peer.answer(gone, 410)

    result = push.send(offer(gone))

    assert result.outcome is Outcome.PERMANENT
    assert result.dead_tokens == (gone.token,)


def test_429_is_transient_and_carries_retry_after_seconds(peer: WebPushPeer, push: WebPushPush) -> None:
    busy, alive = peer.subscribe(), peer.subscribe()
    peer.answer(busy, 429, retry_after="120")

    result = push.send(offer(busy, alive))

    assert result.outcome is Outcome.TRANSIENT
    assert result.retry_tokens == (busy.token,)
    assert result.sent_tokens == (alive.token,)
    assert result.detail == "http_429=1, retry_after=120"
    assert retry_after_s(result.detail) == 120


def test_503_with_an_http_date_retry_after(peer: WebPushPeer, push: WebPushPush, clock: Clock) -> None:
    busy = peer.subscribe()
    peer.answer(busy, 503, retry_after=format_datetime(NOW + timedelta(minutes=5), usegmt=True))

    result = push.send(offer(busy))

    assert result.outcome is Outcome.TRANSIENT
    assert retry_after_s(result.detail) == 300


def test_500_is_transient_without_a_delay(peer: WebPushPeer, push: WebPushPush) -> None:
    broken = peer.subscribe()
    peer.answer(broken, 500)

    result = push.send(offer(broken))

    assert result.outcome is Outcome.TRANSIENT
    assert result.retry_tokens == (broken.token,)
    assert result.detail == "http_500=1"
    assert retry_after_s(result.detail) is None


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_refusals_are_permanent(peer: WebPushPeer, push: WebPushPush, status: int) -> None:
    browser = peer.subscribe()
    peer.answer(browser, status)

    result = push.send(offer(browser))

    assert result.outcome is Outcome.PERMANENT
    assert (result.sent_tokens, result.dead_tokens, result.retry_tokens) == ((), (), ())
    assert result.detail == f"http_{status}=1"


def test_unreachable_push_service_is_transient(key: VapidKey, clock: Clock) -> None:
    with WebPushPeer(clock=clock) as gone:
        browser = gone.subscribe()
    with WebPushPush(key, SUBJECT, "127.0.0.1", clock=clock, timeout=2.0) as adapter:
        result = adapter.send(offer(browser))

    assert result.outcome is Outcome.TRANSIENT
    assert result.retry_tokens == (browser.token,)
    assert result.detail == "ConnectionError=1"


def test_endpoint_off_the_allowlist_is_never_contacted(peer: WebPushPeer, key: VapidKey, clock: Clock) -> None:
    browser = peer.subscribe()
    with WebPushPush(key, SUBJECT, webpush.DEFAULT_HOSTS + ",localhost", clock=clock) as adapter:
        result = adapter.send(offer(browser))

    assert result.outcome is Outcome.PERMANENT
    assert result.detail == "endpoint_not_allowed=1"
    assert peer.deliveries == []


def test_sender_never_connects_where_another_parser_saw_an_allowed_host(key: VapidKey, clock: Clock) -> None:
    """A subscription stored before the fix: urllib.parse read a host under .push.apple.com, the sender 169.254.169.254."""
    browser = Subscriber("https://169.254.169.254\\.push.apple.com/push/1", ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
    with WebPushPush(key, SUBJECT, webpush.DEFAULT_HOSTS, clock=clock) as adapter:
        result = adapter.send(offer(browser))  # forbid_outbound raises if a lookup or a connection is tried

    assert (result.outcome, result.detail) == (Outcome.PERMANENT, "endpoint_not_allowed=1")


def test_malformed_token_is_dead_without_a_call(peer: WebPushPeer, push: WebPushPush) -> None:
    message = PushMessage(
        tokens=("not json", '{"endpoint": "http://127.0.0.1:1/x"}'),
        data={"type": "offer"},
        collapse_key="request-1",
        expires_at=EXPIRES,
    )

    result = push.send(message)

    assert result.outcome is Outcome.PERMANENT
    assert result.dead_tokens == message.tokens
    assert peer.deliveries == []


def test_many_subscriptions_are_sent_concurrently(peer: WebPushPeer, push: WebPushPush) -> None:
    peer.latency_s = 0.02  # a push service's round trip
    browsers = [peer.subscribe() for _ in range(100)]

    started = time.monotonic()
    results = push.send_batch([offer(b, collapse_key=f"request-{i}") for i, b in enumerate(browsers)])
    elapsed = time.monotonic() - started

    assert [r.sent_tokens for r in results] == [(b.token,) for b in browsers]
    assert all(d.errors == () for d in peer.deliveries)
    assert [d.headers["topic"] for d in sorted(peer.deliveries, key=lambda d: int(d.headers["topic"][8:]))] == [
        f"request-{i}" for i in range(100)
    ]
    assert elapsed < 1.0  # one after the other would take 2 s


def test_the_peer_refuses_a_forged_or_misaddressed_vapid_token(peer: WebPushPeer, key: VapidKey) -> None:
    browser = peer.subscribe()
    other = VapidKey(ec.generate_private_key(ec.SECP256R1()))
    exp = int((NOW + timedelta(hours=1)).timestamp())
    good_claims = {"aud": peer.url, "exp": exp, "sub": SUBJECT}
    forged = f"vapid t={vapid_jwt.sign(good_claims, other.private_key)}, k={key.public_key_b64url}"
    misaddressed = f"vapid t={vapid_jwt.sign({**good_claims, 'aud': 'https://x.fr'}, key.private_key)},k={key.public_key_b64url}"

    for authorization in (forged, misaddressed):
        requests.post(
            browser.endpoint, data=b"", headers={"Authorization": authorization, "Content-Encoding": "aes128gcm"}, timeout=5
        )

    first, second = peer.deliveries
    assert first.status == 401 and "vapid signature does not verify" in first.errors
    assert second.claims is not None and any("vapid aud" in e for e in second.errors)


def test_closed_adapter_refuses_to_send(push: WebPushPush, peer: WebPushPeer) -> None:
    push.close()
    with pytest.raises(RuntimeError):
        push.send(offer(peer.subscribe()))


# --- Pure helpers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", True),
        ("https://updates.push.services.mozilla.com/wpush/v2/abc", True),
        ("https://web.push.apple.com/QGx", True),
        ("https://wns2-par02p.notify.windows.com/w/?token=x", True),
        ("https://push.apple.com/x", False),  # a leading dot matches subdomains only
        ("https://evilpush.apple.com/x", False),
        ("https://fcm.googleapis.com.evil.fr/x", False),
        ("https://fcm.googleapis.com:8443/x", True),
        ("http://fcm.googleapis.com/fcm/send/abc", False),  # plain http only on loopback
        ("https://user@fcm.googleapis.com/x", False),
        ("ftp://fcm.googleapis.com/x", False),
        ("https://fcm.googleapis.com:99999/x", False),
        ("https://fcm.googleapis.com/x y", False),
        ("fcm.googleapis.com/x", False),
        ("", False),
        # issue 23 point 7: what urllib.parse and the sender (requests, urllib3) read differently
        ("https://169.254.169.254\\.push.apple.com/x", False),
        ("https://169.254.169.254\\@web.push.apple.com/x", False),
        ("https://web.push.apple.com\\/x", False),
        ("https://fcm.googleapis.com%2eevil.fr/x", False),
        ("https://web.push.apple.com%2f@169.254.169.254/x", False),
        ("https://web.push.apple.com%40169.254.169.254/x", False),
        ("https://a:b@web.push.apple.com/x", False),
        ("https://@web.push.apple.com/x", False),
        ("https://web.push.apple.com/x?next=%2F%2Fevil", True),  # percent-encoding after the authority is the push's own
    ],
)
def test_endpoint_allowed_by_default_hosts(endpoint: str, allowed: bool) -> None:
    assert endpoint_allowed(endpoint, webpush.DEFAULT_HOSTS) is allowed


@pytest.mark.parametrize(
    ("endpoint", "hosts", "allowed"),
    [
        ("http://127.0.0.1:8080/push/1", "127.0.0.1", True),
        ("http://127.0.0.1:8080/push/1", "localhost", False),  # loopback, but not listed
        ("http://127.0.0.2/push/1", "127.0.0.2", True),
        ("http://localhost:1/p", "localhost", True),
        ("http://[::1]:1/p", "::1", True),
        ("http://[::1]:1/p", "[::1]", True),
        ("http://10.0.0.1/p", "10.0.0.1", False),  # listed, but http off loopback
        ("https://10.0.0.1/p", "10.0.0.1", True),
        ("https://push.example.org/p", " Push.Example.org. , x", True),
    ],
)
def test_endpoint_allowed_for_listed_hosts(endpoint: str, hosts: str, allowed: bool) -> None:
    assert endpoint_allowed(endpoint, hosts) is allowed


def test_validate_subscription_returns_the_canonical_token(peer: WebPushPeer) -> None:
    browser = peer.subscribe()
    padded = {**browser.info, "keys": {k: v + "=" * (-len(v) % 4) for k, v in browser.info["keys"].items()}}

    assert validate_subscription(browser.info, "127.0.0.1") == browser.token
    assert validate_subscription(padded, "127.0.0.1") == browser.token
    assert json.loads(browser.token) == {
        "endpoint": browser.endpoint,
        "keys": {"auth": b64url(browser.auth), "p256dh": b64url(browser.p256dh)},
    }


def _with_keys(info: dict, **keys: object) -> dict:
    return {**info, "keys": {**info["keys"], **keys}}


def test_validate_subscription_refusals_are_in_french(peer: WebPushPeer) -> None:
    info = peer.subscribe().info
    off_curve = b64url(b"\x04" + b"\x01" * 64)
    compressed = b64url(b"\x02" + b"\x01" * 64)
    cases = [
        ([], "objet JSON"),
        ({"keys": info["keys"]}, "Adresse d'envoi (endpoint) manquante"),
        (info, "non autorisée"),  # hosts below do not list 127.0.0.1
        ({"endpoint": info["endpoint"]}, "Clés de chiffrement manquantes"),
        (_with_keys(info, auth=None), "Clés de chiffrement manquantes"),
        (_with_keys(info, p256dh="!!"), "Clé p256dh invalide"),
        (_with_keys(info, p256dh=b64url(b"\x04" * 33)), "Clé p256dh invalide"),
        (_with_keys(info, p256dh=compressed), "Clé p256dh invalide"),
        (_with_keys(info, p256dh=off_curve), "Clé p256dh invalide"),
        (_with_keys(info, auth=b64url(b"x" * 15)), "Clé auth invalide"),
        (_with_keys(info, auth=base64.b64encode(b"\xff" * 16).decode()), "Clé auth invalide"),  # not base64url
    ]
    for sub, message in cases:
        hosts = "localhost" if message == "non autorisée" else "127.0.0.1"
        with pytest.raises(ValueError, match=re.escape(message)):
            validate_subscription(sub, hosts)


@pytest.mark.parametrize(
    ("collapse_key", "expected"),
    [("request-42", "request-42"), ("a_B-9", "a_B-9"), ("x" * 32, "x" * 32)],
)
def test_topic_keeps_valid_keys(collapse_key: str, expected: str) -> None:
    assert topic(collapse_key) == expected


@pytest.mark.parametrize("collapse_key", ["request:42", "x" * 33, "demande n°42", ""])
def test_topic_digests_anything_else_deterministically(collapse_key: str) -> None:
    value = topic(collapse_key)
    assert len(value) == 32
    assert value == topic(collapse_key)
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120),
        (" 0 ", 0),
        ("Mon, 23 Nov 2026 14:42:00 GMT", 120),
        ("Mon, 23 Nov 2026 14:39:00 GMT", 0),  # in the past
        ("999999999", MAX_RETRY_AFTER_S),
        ("soon", None),
        ("-5", None),
        ("\u00b2", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: int | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


# --- VAPID keys ---------------------------------------------------------------------------------------------------


def test_key_is_generated_once_owner_only_and_reused(tmp_path: Path) -> None:
    instance = tmp_path / "instance"

    first = load_or_create_vapid_key(None, instance)
    second = load_or_create_vapid_key("", instance)

    path = instance / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.public_key_b64url == second.public_key_b64url
    assert sorted(p.name for p in instance.iterdir()) == [KEY_FILE]  # no temporary left behind
    point = base64.urlsafe_b64decode(first.public_key_b64url + "=")
    assert len(point) == 65 and point[0] == 4
    assert "=" not in first.public_key_b64url


def test_key_from_a_pem_path(tmp_path: Path, key: VapidKey) -> None:
    pem = tmp_path / "vapid.pem"
    pem.write_bytes(key.private_pem())

    loaded = load_or_create_vapid_key(str(pem), tmp_path / "instance")

    assert loaded.public_key_b64url == key.public_key_b64url
    assert not (tmp_path / "instance").exists()  # nothing generated


def test_key_from_an_openssl_ecparam_pem(tmp_path: Path, key: VapidKey) -> None:
    """`openssl ecparam -genkey` writes an EC PARAMETERS block, then the key in SEC1 form, with CRLF on Windows."""
    sec1 = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    pem = tmp_path / "ecparam.pem"
    pem.write_bytes(
        (b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + sec1).replace(b"\n", b"\r\n")
    )

    assert load_or_create_vapid_key(str(pem), tmp_path).public_key_b64url == key.public_key_b64url


def test_key_from_raw_base64url(tmp_path: Path, key: VapidKey) -> None:
    raw = key.private_key.private_numbers().private_value.to_bytes(32, "big")
    der = key.private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    assert load_or_create_vapid_key(b64url(raw), tmp_path).public_key_b64url == key.public_key_b64url
    assert load_or_create_vapid_key(b64url(der), tmp_path).public_key_b64url == key.public_key_b64url
    assert not (tmp_path / KEY_FILE).exists()


def test_key_that_is_not_p256_is_refused(tmp_path: Path) -> None:
    pem = tmp_path / "other.pem"
    pem.write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )

    with pytest.raises(ValueError, match="P-256"):
        load_or_create_vapid_key(str(pem), tmp_path)


def test_from_config_reads_the_settings(tmp_path: Path, peer: WebPushPeer, clock: Clock) -> None:
    config = {"DISPATCH_WEBPUSH_HOSTS": "127.0.0.1", "DISPATCH_SMTP_FROM": "snp@cpts.mssante.fr", "DISPATCH_WEBPUSH_TIMEOUT": "3"}
    browser = peer.subscribe()

    with WebPushPush.from_config(config, clock=clock, instance_path=tmp_path) as adapter:
        result = adapter.send(offer(browser))
        public_key = adapter.public_key_b64url

    assert result.outcome is Outcome.SENT
    [delivery] = peer.deliveries
    assert delivery.claims is not None and delivery.claims["sub"] == "mailto:snp@cpts.mssante.fr"
    assert delivery.vapid_key == public_key == load_or_create_vapid_key(None, tmp_path).public_key_b64url
