"""The Géoplateforme's geocoding service (IGN, `DISPATCH_GEOCODER=geoplateforme`): an address to a place, online.

`GET {base}/search?q=<address>&index=address&limit=1` answers GeoJSON: `features[0].geometry.coordinates` is
[lon, lat], `properties.type` the precision (housenumber, street, locality, municipality), `properties.city` the
commune and `properties.score` the confidence. Its terms allow 50 requests a second per client: this adapter never
sends more from one process, a 429 is answered as transient with its Retry-After (the outbox waits that long), and
a peer that hangs is given up after the timeout and asked again later. Asked from the outbox sender only, never
while a request opens.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import requests

from dispatch.notify.ports import Outcome
from dispatch.notify.retry_after import parse_retry_after, with_retry_after

log = logging.getLogger(__name__)

DEFAULT_URL = "https://data.geopf.fr/geocodage"
MAX_PER_SECOND = 50  # the service's limit per client
MIN_SCORE = 0.4  # below it the service guessed: the address is taken as not placed
MAX_ANSWER_BYTES = 256 * 1024
PRECISIONS = {"housenumber": "housenumber", "street": "street", "locality": "street", "municipality": "municipality"}


@dataclass(frozen=True)
class GeocodeResult:
    """What the service said: SENT with a place (or without: not found), else why not (TRANSIENT, PERMANENT)."""

    outcome: Outcome
    lat: float | None = None
    lon: float | None = None
    precision: str | None = None  # housenumber, street or municipality
    commune: str | None = None
    detail: str = ""
    rate_limited: bool = False  # a 429: the message waits and this attempt is not counted


class GeocoderPort(Protocol):
    def search(self, query: str) -> GeocodeResult:
        """Return where the address `query` is."""
        ...


class Pace:
    """At most `per_second` calls a second from this process: each call waits for its turn (thread-safe)."""

    def __init__(self, per_second: int, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second
        self.monotonic = monotonic
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        """Return when the next call may leave."""
        with self.lock:
            now = self.monotonic()
            turn = max(now, self.next_at)
            self.next_at = turn + self.interval
        if turn > now:
            time.sleep(turn - now)


def read_answer(body: Any) -> GeocodeResult:
    """Read the GeoJSON answer of /search: the first feature's place, or none found."""
    if not isinstance(body, Mapping) or not isinstance(body.get("features"), list):
        return GeocodeResult(Outcome.TRANSIENT, detail="geoplateforme answered something that is not a FeatureCollection")
    features = body["features"]
    if not features:
        return GeocodeResult(Outcome.SENT, detail="not found")
    feature = features[0] if isinstance(features[0], Mapping) else {}
    properties = feature.get("properties") or {}
    coordinates: Any = (feature.get("geometry") or {}).get("coordinates") or ()
    try:
        lon, lat = float(coordinates[0]), float(coordinates[1])
        score = float(properties.get("score", 1.0))
    except (IndexError, TypeError, ValueError):
        return GeocodeResult(Outcome.TRANSIENT, detail="geoplateforme answered a feature without coordinates")
    if score < MIN_SCORE or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return GeocodeResult(Outcome.SENT, detail=f"not found (score {score:.2f})")
    precision = PRECISIONS.get(str(properties.get("type")), "municipality")
    commune = str(properties.get("city") or "")[:100] or None
    return GeocodeResult(Outcome.SENT, lat=lat, lon=lon, precision=precision, commune=commune)


class Geoplateforme:
    """GeocoderPort over the Géoplateforme's /search (or any server speaking it: the tests' peer)."""

    def __init__(
        self, base_url: str, *, clock: Callable[[], datetime], timeout: float = 5.0, per_second: int = MAX_PER_SECOND
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.clock = clock  # what a Retry-After HTTP-date is measured from
        self.pace = Pace(per_second)
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json"})

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, clock: Callable[[], datetime]) -> Geoplateforme | None:
        """Build the adapter when DISPATCH_GEOCODER is geoplateforme; None otherwise."""
        if str(config.get("DISPATCH_GEOCODER") or "ban") != "geoplateforme":
            return None
        url = str(config.get("DISPATCH_GEOPLATEFORME_URL") or DEFAULT_URL).strip()
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError(f"DISPATCH_GEOPLATEFORME_URL={url!r}: an https:// address is expected (patients' addresses travel)")
        return cls(url, clock=clock, timeout=float(config.get("DISPATCH_GEOPLATEFORME_TIMEOUT") or 5.0))

    def search(self, query: str) -> GeocodeResult:
        """Ask the service where the address is (its first answer), at most 50 times a second from this process."""
        self.pace.wait()
        try:
            response = self.session.get(
                f"{self.base_url}/search",
                params={"q": query, "index": "address", "limit": "1"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:  # a peer that hangs ends here (the timeout): asked again later
            return GeocodeResult(Outcome.TRANSIENT, detail=f"geoplateforme unreachable: {type(exc).__name__}")
        with response:
            status = response.status_code
            if status == 429 or status >= 500:
                wait = parse_retry_after(response.headers.get("Retry-After"), self.clock())
                detail = with_retry_after(f"geoplateforme answered {status}", wait)
                return GeocodeResult(Outcome.TRANSIENT, detail=detail, rate_limited=status == 429)
            if status >= 300:
                log.warning("the Géoplateforme refused a geocoding: HTTP %s (check DISPATCH_GEOPLATEFORME_URL)", status)
                return GeocodeResult(Outcome.PERMANENT, detail=f"geoplateforme answered {status}")
            if len(response.content) > MAX_ANSWER_BYTES:
                return GeocodeResult(Outcome.TRANSIENT, detail="geoplateforme answered too much")
            try:
                body = json.loads(response.content)
            except ValueError:
                return GeocodeResult(Outcome.TRANSIENT, detail="geoplateforme answered something that is not JSON")
        return read_answer(body)

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()
