"""Local FCM HTTP v1 peer: accepts messages:send calls, records them and plays scripted failures."""

from __future__ import annotations

import collections
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.peers._http import JsonHandler, LoopbackPeer

_SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def google_error(code: int, status: str, message: str, fcm_code: str | None = None) -> dict[str, Any]:
    """Return a Google API error body, with an FcmError detail when fcm_code is given."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if fcm_code:
        error["details"] = [{"@type": _FCM_ERROR_TYPE, "errorCode": fcm_code}]
    return {"error": error}


UNREGISTERED = (404, google_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"))
INVALID_TOKEN = (
    400,
    google_error(
        400,
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
        "INVALID_ARGUMENT",
    ),
)
UNAVAILABLE = (503, google_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"))
INTERNAL = (500, google_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL"))
QUOTA_EXCEEDED = (
    429,
    google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for the sender.", "QUOTA_EXCEEDED"),
)


@dataclass(frozen=True)
class Call:
    """One messages:send call as the peer saw it."""

    project: str
    message: dict[str, Any]
    headers: dict[str, str]
    status: int
    at: float  # time.monotonic() on arrival

    @property
    def token(self) -> str | None:
        """Return the target token of the message."""
        return self.message.get("token")


@dataclass
class FcmPeer(LoopbackPeer):
    """FCM HTTP v1 speaking peer; failures are scripted through its public fields."""

    latency_s: float = 0.0
    unregistered: set[str] = field(default_factory=set)
    invalid: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    token_requests: int = 0  # OAuth token fetches (service-account credentials pointed here)

    def __post_init__(self) -> None:
        LoopbackPeer.__init__(self)
        self._failures: collections.deque[tuple[int, dict[str, Any], dict[str, str]]] = collections.deque()
        self._ids = itertools.count(1)

    def fail_next(self, count: int, failure: tuple[int, dict[str, Any]] = UNAVAILABLE, retry_after: str | None = None) -> None:
        """Answer the next `count` send calls with the given (status, body) failure, and Retry-After if given."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self.lock:
            self._failures.extend([(*failure, headers)] * count)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Return the messages the peer accepted (status 200), in arrival order."""
        with self.lock:
            return [c.message for c in self.calls if c.status == 200]

    def calls_for(self, token: str) -> list[Call]:
        """Return every call aimed at one token."""
        with self.lock:
            return [c for c in self.calls if c.token == token]

    def reset(self) -> None:
        """Forget recorded calls and scripted failures."""
        with self.lock:
            self.calls.clear()
            self._failures.clear()
            self.token_requests = 0

    def answer_send(self, project: str, payload: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """Decide and record the answer to one messages:send call: status, body and response headers."""
        message = payload.get("message") or {}
        token = message.get("token")
        answer_headers: dict[str, str] = {}
        with self.lock:
            if self._failures:
                status, body, answer_headers = self._failures.popleft()
            elif token in self.unregistered:
                status, body = UNREGISTERED
            elif token in self.invalid or not token:
                status, body = INVALID_TOKEN
            else:
                status, body = 200, {"name": f"projects/{project}/messages/{next(self._ids)}"}
            self.calls.append(Call(project, message, headers, status, time.monotonic()))
        return status, body, answer_headers

    def answer_token(self) -> dict[str, Any]:
        """Record an OAuth token fetch and hand out a dummy access token."""
        with self.lock:
            self.token_requests += 1
        return {"access_token": "peer-access-token", "expires_in": 3600, "token_type": "Bearer"}


class _Handler(JsonHandler):
    server: Any

    def do_POST(self) -> None:  # noqa: N802
        """Serve messages:send and the OAuth token endpoint."""
        peer: FcmPeer = self.server.peer
        body = self.read_body()
        if peer.latency_s:
            time.sleep(peer.latency_s)
        if self.path == "/token":
            self.reply(200, peer.answer_token())
            return
        match = _SEND_PATH.match(self.path)
        if match is None:
            self.reply(404, google_error(404, "NOT_FOUND", "Unknown path."))
            return
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            self.reply(400, google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer, answer_headers = peer.answer_send(match["project"], payload, headers)
        self.reply(status, answer, headers=answer_headers)


FcmPeer.handler = _Handler
