"""Local Twilio Messages API peer: checks basic auth, records SMS and plays scripted failures."""

from __future__ import annotations

import base64
import collections
import re
import secrets
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

from tests.peers._http import JsonHandler, LoopbackPeer

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-fA-F]{32}|[^/]+)/Messages\.json$")


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    """Return an error body shaped like Twilio's."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


# The GSM 03.38 alphabet as Twilio counts it (written out here, not imported: the peer checks our code).
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # two septets each (escape + character)


def num_segments(body: str) -> int:
    """Count segments as Twilio does without Smart Encoding: GSM-7 160 then 153 septets, else UCS-2 70 then 67."""
    if all(c in _GSM7 or c in _GSM7_EXTENSION for c in body):
        units, single, part = sum(2 if c in _GSM7_EXTENSION else 1 for c in body), 160, 153
    else:
        units, single, part = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else -(-units // part)


UNAVAILABLE = (503, twilio_error(503, 20503, "Service Unavailable"))
TOO_MANY_REQUESTS = (429, twilio_error(429, 20429, "Too Many Requests"))


@dataclass(frozen=True)
class SentSms:
    """One Messages.json call as the peer saw it."""

    sid: str | None
    account_sid: str
    form: dict[str, str]  # To, From, Body, StatusCallback...
    status: int
    at: float  # time.monotonic() on arrival


@dataclass
class TwilioPeer(LoopbackPeer):
    """Twilio Messages API speaking peer for one account."""

    account_sid: str = "AC" + "0" * 32
    auth_token: str = "peer-auth-token"
    latency_s: float = 0.0
    invalid_numbers: set[str] = field(default_factory=set)  # answer 400, code 21211
    unsubscribed_numbers: set[str] = field(default_factory=set)  # answer 400, code 21610
    landline_numbers: set[str] = field(default_factory=set)  # answer 400, code 21614
    calls: list[SentSms] = field(default_factory=list)

    def __post_init__(self) -> None:
        LoopbackPeer.__init__(self)
        self._failures: collections.deque[tuple[int, dict[str, Any]]] = collections.deque()

    def fail_next(self, count: int, failure: tuple[int, dict[str, Any]] = UNAVAILABLE) -> None:
        """Answer the next `count` authenticated calls with the given (status, body) failure."""
        with self.lock:
            self._failures.extend([failure] * count)

    @property
    def messages(self) -> list[SentSms]:
        """Return the SMS the peer accepted (status 201), in arrival order."""
        with self.lock:
            return [c for c in self.calls if c.status == 201]

    def authorized(self, header: str | None) -> bool:
        """Tell whether an Authorization header carries this account's sid and token."""
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"

    def answer_create(self, account_sid: str, form: dict[str, str], authorization: str | None) -> tuple[int, Any]:
        """Decide and record the answer to one message creation."""
        arrived = time.monotonic()
        to = form.get("To", "")
        sid: str | None = None
        with self.lock:
            if not self.authorized(authorization) or account_sid != self.account_sid:
                status, body = 401, twilio_error(401, 20003, "Authenticate")
            elif self._failures:
                status, body = self._failures.popleft()
            elif to in self.invalid_numbers or not to:
                status, body = 400, twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
            elif to in self.unsubscribed_numbers:
                status, body = 400, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
            elif to in self.landline_numbers:
                status, body = 400, twilio_error(400, 21614, f"'To' number {to} is not a valid mobile number")
            else:
                sid = "SM" + secrets.token_hex(16)
                status, body = 201, self._message_json(sid, account_sid, form)
            self.calls.append(SentSms(sid, account_sid, form, status, arrived))
        return status, body

    @staticmethod
    def _message_json(sid: str, account_sid: str, form: dict[str, str]) -> dict[str, Any]:
        now = formatdate(usegmt=False)
        uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json"
        return {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(num_segments(form.get("Body", ""))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": form.get("To"),
            "uri": uri,
        }


class _Handler(JsonHandler):
    server: Any

    def do_POST(self) -> None:  # noqa: N802
        """Serve Messages.json creation."""
        peer: TwilioPeer = self.server.peer
        raw = self.read_body()
        if peer.latency_s:
            time.sleep(peer.latency_s)
        match = _MESSAGES_PATH.match(self.path)
        if match is None:
            self.reply(404, twilio_error(404, 20404, "The requested resource was not found"))
            return
        form = {key: values[-1] for key, values in parse_qs(raw.decode(), keep_blank_values=True).items()}
        status, answer = peer.answer_create(match["sid"], form, self.headers.get("Authorization"))
        self.reply(status, answer)


TwilioPeer.handler = _Handler
