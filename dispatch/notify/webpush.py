"""Push adapter sending to browsers' push services: Web Push (RFC 8030), aes128gcm (RFC 8291), VAPID (RFC 8292).

A token is one browser subscription serialised as compact JSON with sorted keys:
`{"endpoint":"https://…","keys":{"auth":"<16 bytes b64url>","p256dh":"<65 bytes b64url>"}}`
(`validate_subscription` makes it). `PushResult.detail` is a comma-separated list of `key=value`
items: `http_<status>=<count>` or `<error>=<count>` per failure kind, and, when a push service
asked to slow down (429 or 5xx with `Retry-After`), `retry_after=<seconds>`, the longest such
delay; `retry_after_s(detail)` reads it back.
"""

from __future__ import annotations

import binascii
import collections
import concurrent.futures
import hashlib
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import requests.adapters
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt
from pywebpush import WebPusher
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from dispatch.notify.ports import Outcome, PushMessage, PushResult
from dispatch.notify.retry_after import parse_retry_after
from dispatch.notify.vapid import VapidKey, b64url, b64url_decode, load_or_create_vapid_key

logger = logging.getLogger(__name__)

DEFAULT_HOSTS = "fcm.googleapis.com,.push.services.mozilla.com,.push.apple.com,.notify.windows.com"
SENDERS = 50  # push-service calls in flight at once
DEFAULT_TTL_S = 24 * 3600  # a push without expiry
JWT_LIFETIME = timedelta(hours=12)  # RFC 8292 asks for at most 24 h
JWT_RENEW_BEFORE = timedelta(hours=1)  # sign again rather than send a token about to expire
MAX_BODY = 4096  # RFC 8030 §7.2: push services may refuse anything larger
MAX_ENDPOINT = 2048
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


# --- Endpoints and subscriptions ----------------------------------------------------------------------------------


def endpoint_allowed(endpoint: str, hosts: str) -> bool:
    """Tell whether the server may post to this endpoint: https on a listed host, or http on a listed loopback host.

    The host is the one the sender connects to: the URL is read by the sender's own parser (requests' preparation,
    then urllib3's), never by another that may disagree (`https://169.254.169.254\\.push.apple.com`: urllib.parse
    sees a host under push.apple.com, urllib3 connects to 169.254.169.254). Backslashes, user-info and any
    percent-encoding before the path are refused outright.
    """
    target = sender_target(endpoint)
    if target is None:
        return False
    scheme, host = target
    if scheme != "https" and not (scheme == "http" and _is_loopback(host)):
        return False
    for entry in (e.strip().lower().strip("[]").rstrip(".") for e in hosts.split(",")):
        if entry.startswith(".") and len(entry) > 1 and host.endswith(entry):
            return True  # a leading dot matches subdomains
        if entry and entry == host:
            return True
    return False


def sender_target(endpoint: str) -> tuple[str, str] | None:
    """Return the scheme and host the sender would connect to for this endpoint, or None if it is not plain enough."""
    if not isinstance(endpoint, str) or len(endpoint) > MAX_ENDPOINT or not endpoint.isascii() or "\\" in endpoint:
        return None
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in endpoint):
        return None
    scheme, sep, rest = endpoint.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not sep or not authority or "@" in authority or "%" in authority:
        return None
    try:
        prepared = requests.Request("POST", endpoint).prepare().url or ""
        parts = parse_url(prepared)
        if parts.port is not None and not 0 < parts.port < 65536:
            return None
    except (requests.RequestException, LocationParseError, ValueError, UnicodeError):
        return None
    host = (parts.host or "").strip("[]").rstrip(".").lower()
    if parts.auth is not None or not host or parts.scheme != scheme.lower():
        return None
    if parts.netloc is None or parts.netloc.lower() != authority.lower():
        return None  # the sender would read another authority than the one written
    return parts.scheme, host


def validate_subscription(sub: Any, hosts: str) -> str:
    """Return the token for a browser's PushSubscription JSON, or raise ValueError with a French message."""
    endpoint, p256dh, auth = _parse(sub)
    if not endpoint_allowed(endpoint, hosts):
        raise ValueError(
            "Adresse d'envoi (endpoint) non autorisée : seuls les services de notification reconnus, en https, sont acceptés."
        )
    return _token(endpoint, p256dh, auth)


def _parse(sub: Any) -> tuple[str, bytes, bytes]:
    """Return the endpoint and the decoded keys of a subscription, or raise ValueError (French)."""
    if not isinstance(sub, Mapping):
        raise ValueError("L'abonnement doit être un objet JSON.")
    endpoint = sub.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise ValueError("Adresse d'envoi (endpoint) manquante.")
    keys = sub.get("keys")
    if not isinstance(keys, Mapping) or not isinstance(keys.get("p256dh"), str) or not isinstance(keys.get("auth"), str):
        raise ValueError("Clés de chiffrement manquantes (keys.p256dh et keys.auth).")
    p256dh = _b64url_decode_or_none(keys["p256dh"])
    if p256dh is None or len(p256dh) != 65 or p256dh[0] != 0x04 or not _on_curve(p256dh):
        raise ValueError("Clé p256dh invalide : un point P-256 non compressé de 65 octets est attendu.")
    auth = _b64url_decode_or_none(keys["auth"])
    if auth is None or len(auth) != 16:
        raise ValueError("Clé auth invalide : 16 octets sont attendus.")
    return endpoint, p256dh, auth


def _token(endpoint: str, p256dh: bytes, auth: bytes) -> str:
    subscription = {"endpoint": endpoint, "keys": {"auth": b64url(auth), "p256dh": b64url(p256dh)}}
    return json.dumps(subscription, separators=(",", ":"), sort_keys=True)


def _on_curve(point: bytes) -> bool:
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- Headers ------------------------------------------------------------------------------------------------------


def topic(collapse_key: str) -> str:
    """Return the RFC 8030 Topic for a collapse key: itself when already valid, else a digest of it."""
    if _TOPIC.match(collapse_key):
        return collapse_key
    return b64url(hashlib.sha256(collapse_key.encode()).digest())[:32]


# --- The adapter --------------------------------------------------------------------------------------------------


class WebPushPush:
    """PushPort implementation posting encrypted pushes to browsers' push services."""

    def __init__(
        self, vapid_key: VapidKey, subject: str, hosts: str, *, clock: Callable[[], datetime], timeout: float = 10.0
    ) -> None:
        if not subject.startswith(("mailto:", "https:")):
            raise ValueError("the VAPID subject must be a mailto: or https: URL")
        self._key = vapid_key
        self._subject = subject
        self._hosts = hosts
        self._clock = clock
        self._timeout = timeout
        self._jwts: dict[str, tuple[datetime, str]] = {}  # origin -> (exp, Authorization value)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="webpush-send")
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=10, pool_maxsize=SENDERS, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._closed = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, clock: Callable[[], datetime], instance_path: Path) -> WebPushPush:
        """Build the adapter from DISPATCH_VAPID_* and DISPATCH_WEBPUSH_* settings; `clock` dates TTL and VAPID."""
        key = load_or_create_vapid_key(config.get("DISPATCH_VAPID_PRIVATE_KEY"), instance_path)
        subject = config.get("DISPATCH_VAPID_SUBJECT") or ""
        if not subject and config.get("DISPATCH_SMTP_FROM"):
            subject = f"mailto:{config['DISPATCH_SMTP_FROM']}"
        subject = subject or config.get("DISPATCH_PUBLIC_URL") or ""
        hosts = config.get("DISPATCH_WEBPUSH_HOSTS") or DEFAULT_HOSTS
        return cls(key, subject, hosts, clock=clock, timeout=float(config.get("DISPATCH_WEBPUSH_TIMEOUT") or 10.0))

    @property
    def public_key_b64url(self) -> str:
        """Return the application server key the browsers subscribe with."""
        return self._key.public_key_b64url

    def close(self) -> None:
        """Wait for the senders and close the HTTP connections."""
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True)
        self._session.close()

    def __enter__(self) -> WebPushPush:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, message: PushMessage) -> PushResult:
        """Send one push to every subscription."""
        return self.send_batch([message])[0]

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        """Send many pushes on the shared senders; one result per push, in order."""
        if self._closed:
            raise RuntimeError("WebPushPush is closed")
        now = self._clock()
        tallies = [_Tally(list(dict.fromkeys(t for t in m.tokens if isinstance(t, str)))) for m in messages]
        jobs = [(index, token) for index, tally in enumerate(tallies) for token in tally.tokens]
        outcomes = self._pool.map(lambda job: self._send_one(messages[job[0]], job[1], now), jobs)
        for (index, token), (kind, code, delay) in zip(jobs, outcomes, strict=True):
            tallies[index].add(token, kind, code, delay)
        refused: collections.Counter[str] = collections.Counter()
        for tally in tallies:
            refused.update(tally.permanent_codes)
        if refused:
            logger.error("web push refused for %d of %d subscriptions: %s", sum(refused.values()), len(jobs), _describe(refused))
        return [tally.result() for tally in tallies]

    def _send_one(self, message: PushMessage, token: str, now: datetime) -> tuple[str, str, int | None]:
        """Post one push; return (sent|dead|retry|permanent, failure code, Retry-After seconds)."""
        try:
            endpoint, p256dh, auth = _parse(json.loads(token))
        except ValueError:
            return "dead", "malformed_subscription", None  # it can never work: drop it, the physician gets the SMS
        if not endpoint_allowed(endpoint, self._hosts):
            return "permanent", "endpoint_not_allowed", None  # never posted to, whatever the database holds
        subscription = {"endpoint": endpoint, "keys": {"p256dh": b64url(p256dh), "auth": b64url(auth)}}
        body = WebPusher(subscription).encode(_payload(message), "aes128gcm")["body"]
        if len(body) > MAX_BODY:
            return "permanent", "payload_too_large", None
        headers = {
            "Authorization": self._authorization(endpoint, now),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(_ttl(message, now)),
            "Urgency": "high" if message.urgent else "normal",
            "Topic": topic(message.collapse_key),
        }
        try:
            response = self._session.post(endpoint, data=body, headers=headers, timeout=self._timeout, allow_redirects=False)
        except (requests.ConnectionError, requests.Timeout) as error:
            return "retry", type(error).__name__, None
        except requests.RequestException as error:
            return "permanent", type(error).__name__, None
        status = response.status_code  # the body was read: the connection is back in the pool
        code = f"http_{status}"
        if 200 <= status < 300:
            return "sent", "", None
        if status in (404, 410):
            return "dead", code, None
        if status == 429 or status >= 500:
            return "retry", code, parse_retry_after(response.headers.get("Retry-After"), now)
        return "permanent", code, None  # 400 malformed, 401/403 VAPID refused, 413 too large, redirects

    def _authorization(self, endpoint: str, now: datetime) -> str:
        """Return `vapid t=<JWT>, k=<key>` for the endpoint's origin, signed again when close to expiry."""
        parts = parse_url(endpoint)  # the sender's parser, as endpoint_allowed reads it
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._jwts.get(origin)
        if cached is not None and cached[0] - now > JWT_RENEW_BEFORE and cached[0] - now <= JWT_LIFETIME:
            return cached[1]
        exp = now + JWT_LIFETIME
        claims = {"aud": origin, "exp": int(exp.timestamp()), "sub": self._subject}
        value = f"vapid t={vapid_jwt.sign(claims, self._key.private_key)}, k={self._key.public_key_b64url}"
        self._jwts[origin] = (exp, value)  # a benign race: two threads may both sign
        return value


class _Tally:
    """Per-push bookkeeping of which subscriptions were sent, dead, to retry or refused."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.lists: dict[str, list[str]] = {"sent": [], "dead": [], "retry": [], "permanent": []}
        self.codes: collections.Counter[str] = collections.Counter()
        self.permanent_codes: collections.Counter[str] = collections.Counter()
        self.retry_after: int | None = None

    def add(self, token: str, kind: str, code: str, delay: int | None) -> None:
        """Record how the send to one subscription ended."""
        self.lists[kind].append(token)
        if code:
            self.codes[code] += 1
        if kind == "permanent":
            self.permanent_codes[code] += 1
        if delay is not None:
            self.retry_after = max(delay, self.retry_after or 0)

    def result(self) -> PushResult:
        """Return the push's result: transient if any subscription may succeed later."""
        if self.lists["retry"]:
            outcome = Outcome.TRANSIENT
        elif self.lists["sent"]:
            outcome = Outcome.SENT
        else:
            outcome = Outcome.PERMANENT  # nothing delivered and retrying cannot help
        detail = _describe(self.codes) if self.codes else ("" if self.tokens else "no device token")
        if self.retry_after is not None:
            detail = f"{detail}, retry_after={self.retry_after}" if detail else f"retry_after={self.retry_after}"
        return PushResult(
            outcome,
            sent_tokens=tuple(self.lists["sent"]),
            dead_tokens=tuple(self.lists["dead"]),
            retry_tokens=tuple(self.lists["retry"]),
            detail=detail,
        )


def _payload(message: PushMessage) -> bytes:
    """Return the decrypted payload: the push's data, with the visible title and body when it has them."""
    payload: dict[str, str] = dict(message.data)
    if message.title is not None:
        payload["title"] = message.title
    if message.body is not None:
        payload["body"] = message.body
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _ttl(message: PushMessage, now: datetime) -> int:
    if message.expires_at is None:
        return DEFAULT_TTL_S
    return max(0, int((message.expires_at - now).total_seconds()))


def _b64url_decode_or_none(value: str) -> bytes | None:
    try:
        return b64url_decode(value)
    except (ValueError, binascii.Error):
        return None


def _describe(codes: Mapping[str, int]) -> str:
    """Format failure counts as 'code=n, code=n'."""
    return ", ".join(f"{code}={count}" for code, count in sorted(codes.items()))
