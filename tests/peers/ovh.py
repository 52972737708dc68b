"""Local OVHcloud API peer (SMS): checks each call's signature and timestamp as OVH does, records the jobs, and
answers the outgoing SMS's delivery receipts the test sets.

Its clock runs SKEW_S ahead of ours: a client that signed with its own time instead of GET /auth/time's is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.peers._http import JsonHandler, LoopbackPeer

SKEW_S = 1000  # the API's clock ahead of this machine's
WINDOW_S = 30  # how far a timestamp may be from the API's time
_JOBS = re.compile(r"^/1\.0/sms/(?P<service>[^/]+)/jobs$")
_OUTGOING = re.compile(r"^/1\.0/sms/(?P<service>[^/]+)/(?P<kind>outgoing|jobs)/(?P<id>\d+)$")


def signature(secret: str, consumer: str, method: str, url: str, body: str, timestamp: str) -> str:
    """Return OVH's signature of a call: "$1$" + SHA-1 of its parts joined by "+"."""
    joined = "+".join([secret, consumer, method, url, body, timestamp])
    return "$1$" + hashlib.sha1(joined.encode(), usedforsecurity=False).hexdigest()


def ovh_error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    """Return an error answer shaped like OVH's."""
    return status, {"errorCode": code, "httpCode": f"{status}", "message": message}


@dataclass(frozen=True)
class Call:
    """One call as the peer saw it."""

    method: str
    path: str
    body: dict[str, Any] | None
    status: int
    refused: str | None  # why the peer refused it ("signature", "timestamp", "credential"), None if accepted


@dataclass
class OvhPeer(LoopbackPeer):
    application_key: str = "ak-test"
    application_secret: str = "as-test"
    consumer_key: str = "ck-test"
    service: str = "sms-ab12345-1"
    calls: list[Call] = field(default_factory=list)
    receipts: dict[int, int] = field(default_factory=dict)  # outgoing id -> deliveryReceipt; absent: still a job
    failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    next_id: int = 7_000_000
    delay_s: float = 0.0  # how long a job's POST waits before its answer (a read timeout)

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def base(self) -> str:
        """Return the API base with its version, as DISPATCH_OVH_URL takes it."""
        return f"{self.url}/1.0"

    def jobs(self) -> list[dict[str, Any]]:
        """Return the bodies of the jobs accepted."""
        with self.lock:
            return [call.body or {} for call in self.calls if call.method == "POST" and call.status == 200]

    def answer(self, method: str, path: str, url: str, raw: str, headers: Any) -> tuple[int, Any]:
        if path == "/1.0/auth/time" and method == "GET":
            return 200, int(time.time()) + SKEW_S
        refused, answer = self._check(method, url, raw, headers)
        body = json.loads(raw) if raw else None
        if answer is None:
            with self.lock:
                answer = self.failures.pop(0) if self.failures else None
        if answer is None:
            answer = self._route(method, path, body)
        with self.lock:
            self.calls.append(Call(method, path, body, answer[0], refused))
        return answer

    def _check(self, method: str, url: str, raw: str, headers: Any) -> tuple[str | None, tuple[int, Any] | None]:
        if headers.get("X-Ovh-Application") != self.application_key:
            return "credential", ovh_error(403, "INVALID_KEY", "This application key is invalid")
        if headers.get("X-Ovh-Consumer") != self.consumer_key:
            return "credential", ovh_error(403, "INVALID_CREDENTIAL", "This credential does not exist")
        stamp = headers.get("X-Ovh-Timestamp") or ""
        if not stamp.isdigit() or abs(int(stamp) - (int(time.time()) + SKEW_S)) > WINDOW_S:
            return "timestamp", ovh_error(400, "QUERY_TIME_OUT", "Query out of time")
        expected = signature(self.application_secret, self.consumer_key, method, url, raw, stamp)
        if headers.get("X-Ovh-Signature") != expected:
            return "signature", ovh_error(400, "INVALID_SIGNATURE", "Invalid signature")
        return None, None

    def _route(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        if method == "POST" and (match := _JOBS.match(path)):
            time.sleep(self.delay_s)
            if match["service"] != self.service:
                return ovh_error(404, "NOT_FOUND", "The requested object does not exist")
            receivers = (body or {}).get("receivers") or []
            invalid = [number for number in receivers if not str(number).startswith("+33")]
            with self.lock:
                self.next_id += 1
                ident = self.next_id
            return 200, {
                "ids": [ident] if not invalid else [],
                "invalidReceivers": invalid,
                "validReceivers": [n for n in receivers if n not in invalid],
                "totalCreditsRemoved": 1,
                "tag": "",
            }
        if method == "GET" and (match := _OUTGOING.match(path)):
            ident = int(match["id"])
            with self.lock:
                receipt = self.receipts.get(ident)
                known = 7_000_000 < ident <= self.next_id
            if match["kind"] == "outgoing" and receipt is not None:
                return 200, {"id": ident, "deliveryReceipt": receipt, "ptt": 0 if receipt == 1 else 15}
            if match["kind"] == "jobs" and receipt is None and known:
                return 200, {"id": ident}
            return ovh_error(404, "NOT_FOUND", "The requested object does not exist")
        return ovh_error(404, "NOT_FOUND", "No route")


class _Handler(JsonHandler):
    server: Any

    def _serve(self, method: str) -> None:
        raw = self.read_body().decode()
        url = f"http://{self.headers['Host']}{self.path}"  # the URL the client signed
        status, payload = self.server.peer.answer(method, self.path, url, raw, self.headers)
        self.reply(status, payload)

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")


OvhPeer.handler = _Handler
