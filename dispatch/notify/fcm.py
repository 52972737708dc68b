"""Push adapter sending to Firebase Cloud Messaging (HTTP v1) through firebase-admin."""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import firebase_admin
import requests
import requests.adapters
from firebase_admin import credentials, exceptions, messaging
from google.auth import exceptions as google_auth_exceptions
from google.auth.credentials import AnonymousCredentials

from dispatch.notify.ports import Outcome, PushMessage, PushResult
from dispatch.notify.retry_after import parse_retry_after, with_retry_after

logger = logging.getLogger(__name__)

FCM_ORIGIN = "https://fcm.googleapis.com"
BATCH_SIZE = 500  # messages handed to the senders at once (send_each's own limit)
SENDERS = 100  # FCM calls in flight at once (the sender claims 200 messages a round: two timeouts fit its lease)

_RETRYABLE = (
    exceptions.UnavailableError,
    exceptions.InternalError,
    exceptions.DeadlineExceededError,
    exceptions.ResourceExhaustedError,  # includes messaging.QuotaExceededError
)
_FCM_CODES: dict[type[Exception], str] = {
    messaging.UnregisteredError: "UNREGISTERED",
    messaging.QuotaExceededError: "QUOTA_EXCEEDED",
    messaging.SenderIdMismatchError: "SENDER_ID_MISMATCH",
    messaging.ThirdPartyAuthError: "THIRD_PARTY_AUTH_ERROR",
}
# Google asks senders over quota to wait at least a minute (FCM HTTP v1, "Best practices"): sooner
# retries keep the quota exhausted. A Retry-After header, when FCM sends one, is honoured as well.
QUOTA_BACKOFF_S = 60
_app_counter = itertools.count(1)


def _utc_now() -> datetime:
    """Return the current aware UTC time."""
    return datetime.now(UTC)


class _AnonymousCredential(credentials.Base):
    """Firebase credential that never fetches a token, for emulators and local peers."""

    def __init__(self) -> None:
        self._credential = AnonymousCredentials()

    def get_credential(self) -> AnonymousCredentials:
        """Return the Google credential that adds no Authorization header."""
        return self._credential


class _FcmAdapter(requests.adapters.HTTPAdapter):
    """Transport adapter without retries that optionally sends FCM calls to another base URL."""

    def __init__(self, base_url: str | None) -> None:
        super().__init__(pool_connections=10, pool_maxsize=BATCH_SIZE, max_retries=0)
        self._base_url = base_url.rstrip("/") if base_url else None

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Send the request, rewriting the FCM origin to the configured base URL."""
        url = request.url or ""
        if self._base_url and url.startswith(FCM_ORIGIN):
            request.url = self._base_url + url[len(FCM_ORIGIN) :]
        return super().send(request, *args, **kwargs)


def error_code(error: BaseException) -> str:
    """Return the FCM error code (or platform code) naming a send failure."""
    for error_type, code in _FCM_CODES.items():
        if isinstance(error, error_type):
            return code
    if isinstance(error, exceptions.FirebaseError):
        return str(error.code)
    if isinstance(error, ValueError):
        return "INVALID_MESSAGE"
    return type(error).__name__


def classify(error: BaseException) -> str:
    """Return "dead", "retry" or "permanent" for one token's send failure."""
    if isinstance(error, messaging.UnregisteredError):
        return "dead"
    if isinstance(error, exceptions.InvalidArgumentError) and "registration token" in str(error).lower():
        return "dead"
    if isinstance(error, _RETRYABLE):
        return "retry"
    if isinstance(error, exceptions.FirebaseError):
        response = error.http_response
        if response is not None and (response.status_code >= 500 or response.status_code == 429):
            return "retry"
        cause = error.cause
        if isinstance(cause, (requests.ConnectionError, requests.Timeout, google_auth_exceptions.TransportError)):
            return "retry"  # includes the OAuth token endpoint being unreachable
        if isinstance(cause, google_auth_exceptions.RefreshError) and getattr(cause, "retryable", False):
            return "retry"
    return "permanent"


class FcmPush:
    """PushPort implementation over firebase-admin with a named app of its own."""

    def __init__(
        self,
        credentials_path: str | None,
        project_id: str | None,
        base_url: str | None,
        timeout: float = 10.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if credentials_path:
            credential: credentials.Base = credentials.Certificate(credentials_path)
        elif base_url and project_id:
            credential = _AnonymousCredential()
        else:
            raise ValueError("FCM needs a service-account file, or a base URL and a project id")
        options: dict[str, Any] = {"httpTimeout": timeout}
        if project_id:
            options["projectId"] = project_id
        self._clock = clock
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="fcm-send")
        name = f"snp-dispatch-fcm-{next(_app_counter)}-{uuid.uuid4().hex[:8]}"
        self._app: firebase_admin.App | None = firebase_admin.initialize_app(credential, options, name=name)
        try:
            self._session = self._configure_transport(base_url)
        except Exception:
            firebase_admin.delete_app(self._app)
            self._app = None
            self._pool.shutdown(wait=False)
            raise

    def _configure_transport(self, base_url: str | None) -> requests.Session:
        """Route FCM calls to base_url and switch off firebase-admin's own retries."""
        # firebase-admin builds its service lazily; creating it now keeps the first send fast
        # and lets us replace the transport adapters it mounted (urllib3 Retry on 500/503).
        service = messaging._get_messaging_service(self._app)  # noqa: SLF001
        session = getattr(getattr(service, "_client", None), "session", None)
        if not isinstance(session, requests.Session):
            raise RuntimeError("unsupported firebase-admin version: no requests session on the messaging service")
        adapter = _FcmAdapter(base_url)
        for prefix in (FCM_ORIGIN, "https://", "http://"):
            session.mount(prefix, adapter)
        # requests reads the proxy and CA-bundle variables (and ~/.netrc) again on every call when it trusts
        # the environment: a tenth of a push's cost. Read them once; FCM calls carry their own OAuth token.
        target = (base_url.rstrip("/") if base_url else FCM_ORIGIN) + "/"
        session.proxies.update(requests.utils.get_environ_proxies(target))
        if session.verify is True:
            session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        session.trust_env = False
        return session

    @classmethod
    def from_config(cls, config: Mapping[str, Any], clock: Callable[[], datetime] = _utc_now) -> FcmPush:
        """Build the adapter from DISPATCH_FCM_* settings; `clock` dates the time-to-live."""
        credentials_path = config.get("DISPATCH_FCM_CREDENTIALS") or None
        base_url = config.get("DISPATCH_FCM_URL") or None
        project_id = config.get("DISPATCH_FCM_PROJECT") or None
        if not credentials_path and not (base_url and project_id):
            raise ValueError(
                "DISPATCH_PUSH_BACKEND=fcm needs DISPATCH_FCM_CREDENTIALS, or DISPATCH_FCM_URL and DISPATCH_FCM_PROJECT"
            )
        return cls(credentials_path, project_id, base_url, clock=clock)

    def close(self) -> None:
        """Delete the firebase app and close its HTTP connections."""
        if self._app is None:
            return
        self._pool.shutdown(wait=True)
        # delete_app closes the async client only; the requests session holds sockets too.
        self._session.close()
        firebase_admin.delete_app(self._app)
        self._app = None

    def __enter__(self) -> FcmPush:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def build_message(self, message: PushMessage, token: str, now: datetime) -> messaging.Message:
        """Map a PushMessage to the FCM message for one token."""
        visible = message.title is not None or message.body is not None
        ttl: int | None = None
        apns_headers = {"apns-collapse-id": message.collapse_key}
        if message.expires_at is not None:
            ttl = max(0, int((message.expires_at - now).total_seconds()))
            apns_headers["apns-expiration"] = str(int(message.expires_at.timestamp()))
        if visible:
            apns_headers.update({"apns-priority": "10", "apns-push-type": "alert"})
            # An urgent offer rings, and on iOS 15+ breaks through Focus ("time-sensitive"; the app needs
            # the Time Sensitive Notifications capability). Anything else visible arrives quietly.
            sound = "default" if message.urgent else None
            aps = messaging.Aps(sound=sound, custom_data={"interruption-level": "time-sensitive" if message.urgent else "active"})
            return _with_token(
                messaging.Message(
                    data=dict(message.data),
                    notification=messaging.Notification(title=message.title, body=message.body),
                    android=messaging.AndroidConfig(
                        collapse_key=message.collapse_key,
                        priority="high" if message.urgent else "normal",
                        ttl=ttl,
                        notification=messaging.AndroidNotification(tag=message.collapse_key, sound=sound),
                    ),
                    apns=messaging.APNSConfig(headers=apns_headers, payload=messaging.APNSPayload(aps=aps)),
                ),
                token,
            )
        # Apple rejects priority 10 for background pushes; data-only is never "high" on Android.
        apns_headers.update({"apns-priority": "5", "apns-push-type": "background"})
        return _with_token(
            messaging.Message(
                data=dict(message.data),
                android=messaging.AndroidConfig(collapse_key=message.collapse_key, priority="normal", ttl=ttl),
                apns=messaging.APNSConfig(
                    headers=apns_headers,
                    payload=messaging.APNSPayload(aps=messaging.Aps(content_available=True)),
                ),
            ),
            token,
        )

    def send(self, message: PushMessage) -> PushResult:
        """Send one push to every token."""
        return self.send_batch([message])[0]

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        """Send many pushes through the shared senders, 500 messages at a time; one result per push."""
        if self._app is None:
            raise RuntimeError("FcmPush is closed")
        now = self._clock()
        tallies = [_Tally([t for t in dict.fromkeys(m.tokens) if isinstance(t, str)]) for m in messages]
        # One FCM message per (push, live token), flattened so that small pushes share batches.
        targets: list[tuple[int, str]] = []
        fcm_messages: list[messaging.Message] = []
        for index, (message, tally) in enumerate(zip(messages, tallies, strict=True)):
            for token in tally.tokens:
                if not token.strip():
                    tally.dead.append(token)
                    continue
                targets.append((index, token))
                fcm_messages.append(self.build_message(message, token, now))
        for start in range(0, len(targets), BATCH_SIZE):
            chunk = targets[start : start + BATCH_SIZE]
            outcomes = self._send_batch(fcm_messages[start : start + BATCH_SIZE], [token for _, token in chunk])
            for (index, _), (token, error) in zip(chunk, outcomes, strict=True):
                tallies[index].add(token, error, now)
        permanent: collections.Counter[str] = collections.Counter()
        for tally in tallies:
            if tally.permanent:
                permanent.update(tally.codes)
        if permanent:
            refused = sum(len(t.permanent) for t in tallies)
            logger.error("fcm push refused for %d of %d tokens: %s", refused, len(targets), _describe(permanent))
        return [tally.result() for tally in tallies]

    def _send_batch(self, fcm_messages: list[messaging.Message], tokens: list[str]) -> Iterable[tuple[str, BaseException | None]]:
        """Send one batch and pair each token with its failure, or None when sent."""
        # messaging.send on threads kept for the adapter's life: what send_each does per message, without
        # starting a thread per message on every batch (a sixth of a push's cost when pushes come in tens).
        return list(zip(tokens, self._pool.map(self._send_one, fcm_messages), strict=True))

    def _send_one(self, fcm_message: messaging.Message) -> BaseException | None:
        """Send one FCM message; return its failure, or None. Anything else is a bug and propagates."""
        try:
            messaging.send(fcm_message, app=self._app)
        except (exceptions.FirebaseError, ValueError) as error:
            # Refused by FCM or by its OAuth endpoint, or rejected by firebase-admin's encoder (ValueError).
            return error
        return None


class _Tally:
    """Per-push bookkeeping of which tokens were sent, dead, to retry or refused."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.sent: list[str] = []
        self.dead: list[str] = []
        self.retry: list[str] = []
        self.permanent: list[str] = []
        self.codes: collections.Counter[str] = collections.Counter()
        self.retry_after: int | None = None  # the longest delay FCM asked for, in seconds

    def add(self, token: str, error: BaseException | None, now: datetime) -> None:
        """Record how the send to one token ended."""
        if error is None:
            self.sent.append(token)
            return
        self.codes[error_code(error)] += 1
        kind = classify(error)
        {"dead": self.dead, "retry": self.retry, "permanent": self.permanent}[kind].append(token)
        if kind == "retry":
            delay = retry_delay(error, now)
            if delay is not None:
                self.retry_after = max(delay, self.retry_after or 0)

    def result(self) -> PushResult:
        """Return the push's result: transient if any token may succeed later."""
        if self.retry:
            outcome = Outcome.TRANSIENT
        elif self.sent:
            outcome = Outcome.SENT
        else:
            outcome = Outcome.PERMANENT  # nothing delivered and retrying cannot help
        detail = _describe(self.codes) if self.codes else ("" if self.tokens else "no device token")
        if self.retry:
            detail = with_retry_after(detail, self.retry_after)
        return PushResult(
            outcome, sent_tokens=tuple(self.sent), dead_tokens=tuple(self.dead), retry_tokens=tuple(self.retry), detail=detail
        )


def retry_delay(error: BaseException, now: datetime) -> int | None:
    """Return how long FCM asked us to wait before sending again, in seconds; None when it did not say."""
    response = error.http_response if isinstance(error, exceptions.FirebaseError) else None
    delay = parse_retry_after(response.headers.get("Retry-After"), now) if response is not None else None
    if isinstance(error, messaging.QuotaExceededError):
        delay = max(delay or 0, QUOTA_BACKOFF_S)
    return delay


def _with_token(fcm_message: messaging.Message, token: str) -> messaging.Message:
    """Target an FCM registration token without the constructor's deprecation warning."""
    # firebase-admin >= 7.5 deprecates Message(token=...) in favour of installation ids (fid),
    # but the phones register FCM registration tokens, which the v1 API still takes as "token".
    # Setting the attribute after construction encodes the same JSON and warns nowhere.
    fcm_message.token = token
    return fcm_message


def _describe(codes: Mapping[str, int]) -> str:
    """Format error-code counts as 'CODE=n, CODE=n'."""
    return ", ".join(f"{code}={count}" for code, count in sorted(codes.items()))
