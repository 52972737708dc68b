"""Where a member's practice is: its address geocoded when set, unless `lat`/`lon` were given outright.

The local BAN places it at once (a few indexed reads). The Géoplateforme is asked through the outbox, as for a
patient, rather than synchronously with a short timeout: a roster import of two hundred members would otherwise
hold one HTTP request for two hundred calls (four seconds at the service's 50 a second, far more when it is slow),
and a timeout would leave members unplaced for good where the outbox retries. Until the answer the member is
unplaced: the waves reach them with the last one only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.geo import service as geo
from dispatch.geo.normal import parse
from dispatch.notify.geoplateforme import GeocodeResult
from dispatch.notify.models import OutboxMessage


def place_practice(physician: Physician, *, now: datetime) -> None:
    """Place a practice from its free-text address (caller's transaction): at once, or once the service answers."""
    address = parse(physician.address)
    if address is None:  # no postcode to read: left unplaced
        return
    place = geo.place_now(address)
    if place is not None:
        physician.lat, physician.lon = place.lat, place.lon
        return
    geo.ask_later(address, kind=geo.PRACTICE_KIND, now=now, physician_id=physician.id)


def practice_placed(message: OutboxMessage, outcome: str, now: datetime, info: dict[str, Any]) -> None:
    """Keep where the online geocoder placed a practice, if its address is still the one asked about."""
    physician = db.session.get(Physician, message.physician_id) if message.physician_id else None
    result: GeocodeResult | None = info.get("place")
    if physician is None or outcome != "sent" or result is None or result.lat is None or result.lon is None:
        return
    address = parse(physician.address)
    if address is None or address.text != message.payload.get("q"):
        return  # changed since: its own question is on its way
    physician.lat, physician.lon = result.lat, result.lon
