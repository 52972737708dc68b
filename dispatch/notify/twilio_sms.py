"""SMS adapter sending through Twilio's Messages API with the official client."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from dispatch.notify.ports import NOT_MOBILE, DeliveryResult, Outcome, SmsMessage

logger = logging.getLogger(__name__)

_AUTH_STATUSES = {401, 403}
LANDLINE = 21614  # "'To' number is not a valid mobile number": no retry helps, a person must call


class _RoutedHttpClient(TwilioHttpClient):
    """Twilio HTTP client without retries that can send api.twilio.com calls to another base URL."""

    def __init__(self, base_url: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._base_url = base_url.rstrip("/") if base_url else None
        adapter = requests.adapters.HTTPAdapter(max_retries=0)
        for prefix in ("https://", "http://"):
            self.session.mount(prefix, adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Make the request, sending any *.twilio.com URL to the configured base URL."""
        if self._base_url:
            parts = urlsplit(url)
            # Match every Twilio host: TWILIO_EDGE/TWILIO_REGION turn api.twilio.com into
            # api.<edge>.<region>.twilio.com before the HTTP client sees the URL.
            if parts.netloc == "twilio.com" or parts.netloc.endswith(".twilio.com"):
                url = self._base_url + urlunsplit(("", "", parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)

    def close(self) -> None:
        """Close the pooled connections."""
        if self.session is not None:
            self.session.close()


class TwilioSms:
    """SmsPort implementation over twilio.rest.Client."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._from = from_
        self._http = _RoutedHttpClient(base_url, timeout)
        self._client = Client(account_sid, auth_token, http_client=self._http)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TwilioSms:
        """Build the adapter from TWILIO_* and DISPATCH_SMS_FROM / DISPATCH_TWILIO_URL settings."""
        names = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "DISPATCH_SMS_FROM")
        missing = [name for name in names if not config.get(name)]
        if missing:
            raise ValueError(f"DISPATCH_SMS_BACKEND=twilio needs {', '.join(missing)}")
        return cls(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            config["DISPATCH_SMS_FROM"],
            base_url=config.get("DISPATCH_TWILIO_URL") or None,
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> TwilioSms:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, message: SmsMessage) -> DeliveryResult:
        """Send one SMS and classify the answer."""
        extra: dict[str, Any] = {}
        if message.status_callback:
            extra["status_callback"] = message.status_callback
        try:
            sent = self._client.messages.create(to=message.to, from_=self._from, body=message.body, **extra)
        except (TwilioRestException, TwilioServiceException) as error:
            return _classify_rest_error(error.status, error.code)
        except requests.exceptions.ConnectTimeout:
            return DeliveryResult(Outcome.TRANSIENT, detail="connect timeout")
        except requests.exceptions.Timeout:
            # Twilio may have accepted the message: the outbox should not repeat it blindly.
            logger.warning("twilio sms: read timeout, delivery unknown")
            return DeliveryResult(Outcome.TRANSIENT, detail="read timeout (may have been sent)", extra={"ambiguous": "true"})
        except requests.exceptions.ConnectionError:
            return DeliveryResult(Outcome.TRANSIENT, detail="connection error")
        except (TwilioException, requests.exceptions.RequestException) as error:
            logger.error("twilio sms failed: %s", type(error).__name__)
            return DeliveryResult(Outcome.PERMANENT, detail=type(error).__name__)
        # Segments are what Twilio bills: texts are written to stay within one or two (dispatch.texts).
        extra = {"status": str(sent.status or ""), "segments": str(sent.num_segments or "")}
        return DeliveryResult(Outcome.SENT, provider_id=sent.sid, extra=extra)


def _classify_rest_error(status: int | None, code: int | None) -> DeliveryResult:
    """Turn a Twilio error answer into a result; the message text may hold the number, so drop it."""
    detail = f"http {status} code {code}"
    if status is not None and (status == 429 or status >= 500):
        return DeliveryResult(Outcome.TRANSIENT, detail=detail)
    if code == LANDLINE:
        return DeliveryResult(Outcome.PERMANENT, detail=f"{detail} ({NOT_MOBILE})", extra={"reason": NOT_MOBILE})
    if status in _AUTH_STATUSES:
        logger.error("twilio refused our credentials (%s): check TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN", detail)
    else:
        logger.warning("twilio refused the sms (%s)", detail)
    return DeliveryResult(Outcome.PERMANENT, detail=detail)
