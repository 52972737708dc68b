"""Local peer of the Géoplateforme's geocoding service (IGN): `GET /search?q=…&index=address&limit=1`.

It answers as the service documents it (geoservices.ign.fr, "Service de géocodage"): a GeoJSON FeatureCollection
whose features have `geometry.coordinates` [lon, lat] and `properties` with `label`, `score`, `type`
(housenumber, street, locality, municipality), `city`, `postcode` and `citycode`. A test can make it answer 429
with a Retry-After, or hang (never answer before the client's timeout). Served on 127.0.0.1 only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.peers._http import JsonHandler, LoopbackPeer


def feature(
    lon: float, lat: float, *, kind: str, city: str, postcode: str, citycode: str, label: str, score: float = 0.95
) -> dict[str, Any]:
    """Return one feature of the service's answer."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "label": label,
            "score": score,
            "type": kind,
            "city": city,
            "postcode": postcode,
            "citycode": citycode,
            "importance": 0.6,
            "x": 0,
            "y": 0,
        },
    }


@dataclass
class _State:
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # query → feature
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    mode: str = "answer"  # answer, throttle (429), hang
    retry_after: str = "30"
    released: threading.Event = field(default_factory=threading.Event)


class _Handler(JsonHandler):
    def do_GET(self) -> None:  # noqa: N802
        peer: GeoplateformePeer = self.server.peer
        parts = urlsplit(self.path)
        if parts.path != "/geocodage/search":
            self.reply(404, {"code": 404, "message": "Not found"})
            return
        query = parse_qs(parts.query)
        with peer.lock:
            peer.state.queries.append(query)
            mode = peer.state.mode
        if mode == "hang":
            peer.state.released.wait(10)  # longer than the client waits
            return
        if mode == "throttle":
            self.reply(429, {"code": 429, "message": "Too Many Requests"}, headers={"Retry-After": peer.state.retry_after})
            return
        if query.get("index") != ["address"] or not query.get("q"):
            self.reply(400, {"code": 400, "message": "Failed parsing query", "detail": ["q: required"]})
            return
        found = peer.state.answers.get(query["q"][0])
        body = {"type": "FeatureCollection", "features": [found] if found else [], "query": query["q"][0]}
        self.reply(200, body, content_type="application/geo+json")


class GeoplateformePeer(LoopbackPeer):
    """The geocoding service on loopback: base URL `{url}/geocodage`."""

    handler = _Handler

    def __init__(self) -> None:
        super().__init__()
        self.state = _State()

    @property
    def base(self) -> str:
        """Return what DISPATCH_GEOPLATEFORME_URL would be."""
        return f"{self.url}/geocodage"

    def stop(self) -> None:
        self.state.released.set()  # a hanging handler ends
        super().stop()
