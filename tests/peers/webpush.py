"""Local Web Push service: checks VAPID (RFC 8292), decrypts aes128gcm (RFC 8291) and plays scripted answers.

Subscriptions are made here, as a browser would: a P-256 key pair and 16 random auth bytes per
endpoint `/push/<id>`. The VAPID token is verified with `cryptography` directly, not with the
library the adapter uses, so a signing bug on the sending side cannot hide itself.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tests.peers._http import JsonHandler, LoopbackPeer

MAX_JWT_LIFETIME = timedelta(hours=24)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass(frozen=True)
class Subscriber:
    """One browser subscription: what the browser keeps (private key, auth) and what it hands out (info)."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @property
    def path(self) -> str:
        return "/" + self.endpoint.split("/", 3)[3]

    @property
    def p256dh(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    @property
    def info(self) -> dict[str, Any]:
        """Return the PushSubscription JSON a browser would post to the server."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(self.p256dh), "auth": b64url(self.auth)},
        }

    @property
    def token(self) -> str:
        """Return the canonical token: compact JSON, sorted keys, unpadded base64url."""
        info = {"endpoint": self.endpoint, "keys": {"auth": b64url(self.auth), "p256dh": b64url(self.p256dh)}}
        return json.dumps(info, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class Delivery:
    """One POST as the peer saw it, checked and decrypted."""

    path: str
    headers: dict[str, str]  # lower-case names
    status: int
    payload: dict[str, Any] | None  # the decrypted JSON, when decryption worked
    claims: dict[str, Any] | None  # the VAPID JWT claims, when the signature verified
    vapid_key: str | None  # the k= parameter
    errors: tuple[str, ...]  # what failed verification or decryption
    at: float  # time.monotonic() on arrival


@dataclass
class WebPushPeer(LoopbackPeer):
    """Push-service speaking peer; answers are scripted per endpoint path through `answer`."""

    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    latency_s: float = 0.0
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        LoopbackPeer.__init__(self)
        self._subscribers: dict[str, Subscriber] = {}
        self._answers: dict[str, tuple[int, dict[str, str]]] = {}
        self._ids = itertools.count(1)

    def subscribe(self) -> Subscriber:
        """Create a subscription on this peer, with fresh browser keys."""
        subscriber = Subscriber(f"{self.url}/push/{os.urandom(12).hex()}", ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
        with self.lock:
            self._subscribers[subscriber.path] = subscriber
        return subscriber

    def answer(self, subscriber: Subscriber, status: int, retry_after: str | None = None) -> None:
        """Answer every later push to this subscription with `status` (and a Retry-After header)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self.lock:
            self._answers[subscriber.path] = (status, headers)

    def deliveries_to(self, subscriber: Subscriber) -> list[Delivery]:
        """Return every POST aimed at one subscription."""
        with self.lock:
            return [d for d in self.deliveries if d.path == subscriber.path]

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        """Check, decrypt, record and answer one push."""
        with self.lock:
            subscriber = self._subscribers.get(path)
            scripted = self._answers.get(path)
        errors: list[str] = []
        claims, key = self._verify_vapid(headers.get("authorization", ""), errors)
        payload = None
        if subscriber is None:
            errors.append("unknown subscription")
        else:
            payload = _decrypt(subscriber, headers, body, errors)
        if scripted is not None:
            status, answer_headers = scripted
        elif subscriber is None:
            status, answer_headers = 404, {}
        elif claims is None:
            status, answer_headers = 401, {}
        elif errors:
            status, answer_headers = 400, {}
        else:
            status, answer_headers = 201, {"Location": f"{self.url}/message/{next(self._ids)}"}
        delivery = Delivery(path, headers, status, payload, claims, key, tuple(errors), time.monotonic())
        with self.lock:
            self.deliveries.append(delivery)
        return status, answer_headers

    def _verify_vapid(self, authorization: str, errors: list[str]) -> tuple[dict[str, Any] | None, str | None]:
        """Return the verified claims and the k= key of `vapid t=<JWT>, k=<key>`, or record why not."""
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            errors.append("no vapid authorization")
            return None, None
        parts = dict(p.strip().partition("=")[::2] for p in params.split(","))
        token, key = parts.get("t", ""), parts.get("k")
        try:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key or ""))
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            signature = b64url_decode(signature_b64)
            if header.get("alg") != "ES256" or len(signature) != 64:
                raise InvalidSignature
            der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public_key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = json.loads(b64url_decode(claims_b64))
        except (InvalidSignature, ValueError, binascii.Error):
            errors.append("vapid signature does not verify")
            return None, key
        now = self.clock()
        if claims.get("aud") != self.url:
            errors.append(f"vapid aud {claims.get('aud')!r} is not {self.url!r}")
        exp = datetime.fromtimestamp(int(claims.get("exp", 0)), UTC)
        if not now < exp <= now + MAX_JWT_LIFETIME:
            errors.append(f"vapid exp {exp.isoformat()} out of (now, now + 24 h]")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            errors.append("vapid sub is neither mailto: nor https:")
        return claims, key


def _decrypt(subscriber: Subscriber, headers: dict[str, str], body: bytes, errors: list[str]) -> dict[str, Any] | None:
    """Decrypt an aes128gcm body as the browser would, or record why not."""
    if headers.get("content-encoding") != "aes128gcm":
        errors.append(f"content-encoding {headers.get('content-encoding')!r}")
        return None
    try:
        plain = http_ece.decrypt(body, private_key=subscriber.private_key, auth_secret=subscriber.auth, version="aes128gcm")
        return json.loads(plain.decode("utf-8"))
    except (http_ece.ECEException, ValueError) as error:
        errors.append(f"cannot decrypt: {error}")
        return None


class _Handler(JsonHandler):
    server: Any

    def do_POST(self) -> None:  # noqa: N802
        """Serve POST /push/<id>: RFC 8030 message delivery."""
        peer: WebPushPeer = self.server.peer
        body = self.read_body()
        if peer.latency_s:
            time.sleep(peer.latency_s)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer_headers = peer.receive(self.path, headers, body)
        self.send_response(status)
        for name, value in answer_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


WebPushPeer.handler = _Handler
