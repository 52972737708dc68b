"""SMS adapter sending through OVHcloud's SMS API (a French processor, HDS-certified hosting) with the `ovh` library,
and reading each SMS's delivery status back.

Every call is signed as OVH requires, by the library: X-Ovh-Application, X-Ovh-Consumer, X-Ovh-Timestamp (our clock
set to the API's, from GET /auth/time) and X-Ovh-Signature, "$1$" + SHA-1 of secret+consumer+method+URL+body+timestamp.

Statuses are polled (GET /sms/{service}/outgoing/{id}), not received: OVH's delivery callback is a plain GET that
nobody signs, so anyone who learnt its URL could mark a patient's SMS delivered; a signed question from the worker
needs no public route either. Nothing of a message (text, number) is ever logged here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import ovh
import requests

from dispatch import gsm7
from dispatch.notify.ports import DeliveryResult, Outcome, SmsMessage

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "ovh-eu"
TIMEOUT = (5.0, 15.0)  # connect, read: a read timeout after the POST leaves the SMS's fate unknown
# OVH's delivery receipt (DLR) of an outgoing SMS, in the outbox's provider statuses (Twilio's words, which
# dispatch.notify.service ranks): 1 delivered to the phone, 2 not delivered, 4 buffered by the operator (the phone
# off), 8 accepted by the operator's SMSC, 16 refused by it; 0 (none yet): OVH has sent it.
DLR_STATUSES = {0: "sent", 1: "delivered", 2: "undelivered", 4: "sent", 8: "sent", 16: "failed"}
_CREDENTIALS = (ovh.exceptions.InvalidKey, ovh.exceptions.InvalidCredential, ovh.exceptions.NotCredential)
_REFUSED = (ovh.exceptions.NotGrantedCall, ovh.exceptions.Forbidden, ovh.exceptions.BadParametersError)


class OvhSms:
    """SmsPort and SmsStatusPort implementation over ovh.Client."""

    def __init__(
        self,
        *,
        application_key: str,
        application_secret: str,
        consumer_key: str,
        service: str,
        sender: str | None = None,
        endpoint: str = DEFAULT_ENDPOINT,
        base_url: str | None = None,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.service = service
        self.sender = sender or None
        self._client = ovh.Client(
            endpoint=endpoint,
            application_key=application_key,
            application_secret=application_secret,
            consumer_key=consumer_key,
            timeout=timeout,
        )
        if base_url:
            # The library takes only a region's name; its base URL (API version included) is this attribute, which
            # every call, and the signature, are built from.
            self._client._endpoint = base_url.rstrip("/")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OvhSms:
        """Build the adapter from OVH_* and DISPATCH_OVH_SMS_SERVICE (DISPATCH_SMS_FROM: the default sender)."""
        names = ("OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY", "DISPATCH_OVH_SMS_SERVICE")
        missing = [name for name in names if not str(config.get(name) or "").strip()]
        if missing:
            raise ValueError(f"DISPATCH_SMS_BACKEND=ovh needs {', '.join(missing)}")
        endpoint = str(config.get("OVH_ENDPOINT") or DEFAULT_ENDPOINT).strip()
        if endpoint not in ovh.client.ENDPOINTS:
            raise ValueError(f"OVH_ENDPOINT={endpoint!r}: expected one of {', '.join(ovh.client.ENDPOINTS)}")
        return cls(
            application_key=str(config["OVH_APPLICATION_KEY"]).strip(),
            application_secret=str(config["OVH_APPLICATION_SECRET"]).strip(),
            consumer_key=str(config["OVH_CONSUMER_KEY"]).strip(),
            service=str(config["DISPATCH_OVH_SMS_SERVICE"]).strip(),
            sender=str(config.get("DISPATCH_SMS_FROM") or "").strip() or None,
            endpoint=endpoint,
            base_url=str(config.get("DISPATCH_OVH_URL") or "").strip() or None,
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client._session.close()

    def send(self, message: SmsMessage) -> DeliveryResult:
        """Send one SMS as a job of the SMS account and classify the answer."""
        try:
            self._client.time_delta  # noqa: B018 - GET /auth/time once, before anything is sent: a failure is harmless
        except ovh.exceptions.APIError as error:
            return DeliveryResult(Outcome.TRANSIENT, detail=f"auth/time: {_describe(error)}")
        sender = message.sender or self.sender
        body: dict[str, Any] = {
            "message": message.body,
            "receivers": [message.to],
            "noStopClause": True,  # no "STOP 36111" and no marketing hours: these texts are not advertising
            "priority": "high",
            # GSM 7-bit when the text fits it (our texts are written so); else OVH's 8bit, lest accents be lost.
            "coding": "7bit" if gsm7.fits(message.body) else "8bit",
        }
        body.update({"sender": sender} if sender else {"senderForResponse": True})
        try:
            answer = self._client.post(f"/sms/{self.service}/jobs", **body)
        except ovh.exceptions.APIError as error:
            return _classify(error)
        ids = answer.get("ids") if isinstance(answer, dict) else None
        if isinstance(answer, dict) and answer.get("invalidReceivers"):
            return DeliveryResult(Outcome.PERMANENT, detail="invalid receiver")
        if not ids:
            logger.warning("ovh sms: job accepted without an id")
            return DeliveryResult(Outcome.SENT, detail="accepted without an id")
        credits = str(answer.get("totalCreditsRemoved", ""))
        return DeliveryResult(Outcome.SENT, provider_id=str(ids[0]), extra={"status": "queued", "segments": credits})

    def status(self, provider_id: str) -> DeliveryResult:
        """Read what OVH knows of one SMS: sent (its delivery receipt), or still a job waiting to leave."""
        try:
            outgoing = self._client.get(f"/sms/{self.service}/outgoing/{int(provider_id)}")
        except ovh.exceptions.ResourceNotFoundError:
            try:  # not sent yet: still among the account's jobs
                self._client.get(f"/sms/{self.service}/jobs/{int(provider_id)}")
            except ovh.exceptions.ResourceNotFoundError:
                return DeliveryResult(Outcome.PERMANENT, provider_id=provider_id, detail="unknown to ovh")
            except ovh.exceptions.APIError as error:
                return DeliveryResult(Outcome.TRANSIENT, provider_id=provider_id, detail=_describe(error))
            return DeliveryResult(Outcome.SENT, provider_id=provider_id, extra={"status": "queued"})
        except (ovh.exceptions.APIError, ValueError) as error:
            outcome = Outcome.TRANSIENT if isinstance(error, ovh.exceptions.APIError) else Outcome.PERMANENT
            return DeliveryResult(outcome, provider_id=provider_id, detail=_describe(error))
        receipt = outgoing.get("deliveryReceipt") if isinstance(outgoing, dict) else None
        status = DLR_STATUSES.get(receipt if isinstance(receipt, int) else 0, "sent")
        extra = {"status": status}
        if status in ("undelivered", "failed"):
            extra["error_code"] = f"dlr {receipt} ptt {outgoing.get('ptt')}"
        return DeliveryResult(Outcome.SENT, provider_id=provider_id, extra=extra)


def _describe(error: BaseException) -> str:
    """Name a failure by its kind and HTTP status, never by its message (it may quote the number)."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    code = ""
    if response is not None:
        try:
            code = str(response.json().get("errorCode") or "")
        except ValueError:
            code = ""
    parts = [type(error).__name__] + ([f"http {status}"] if status else []) + ([code] if code else [])
    return " ".join(parts)


def _classify(error: ovh.exceptions.APIError) -> DeliveryResult:
    """Turn a failed POST of a job into a result: retried, given up, or of unknown fate (never sent again)."""
    detail = _describe(error)
    if isinstance(error, ovh.exceptions.HTTPError):  # the library wraps what requests raised
        cause = error.args[1] if len(error.args) > 1 else None
        if isinstance(cause, requests.exceptions.ConnectTimeout):
            return DeliveryResult(Outcome.TRANSIENT, detail="connect timeout")
        if isinstance(cause, requests.exceptions.Timeout):
            logger.warning("ovh sms: read timeout, delivery unknown")
            return DeliveryResult(Outcome.TRANSIENT, detail="read timeout (may have been sent)", extra={"ambiguous": "true"})
        return DeliveryResult(Outcome.TRANSIENT, detail="connection error")
    if isinstance(error, ovh.exceptions.InvalidResponse):  # a 2xx we cannot read: the job may exist
        return DeliveryResult(Outcome.TRANSIENT, detail=f"{detail} (may have been sent)", extra={"ambiguous": "true"})
    if isinstance(error, _CREDENTIALS):
        logger.error("ovh refused our credentials (%s): check OVH_APPLICATION_KEY/SECRET and OVH_CONSUMER_KEY", detail)
        return DeliveryResult(Outcome.PERMANENT, detail=detail)
    if isinstance(error, _REFUSED + (ovh.exceptions.ResourceNotFoundError, ovh.exceptions.ResourceConflictError)):
        logger.warning("ovh refused the sms (%s)", detail)
        return DeliveryResult(Outcome.PERMANENT, detail=detail)
    return DeliveryResult(Outcome.TRANSIENT, detail=detail)  # 5xx, 429, a network error (status 0)
