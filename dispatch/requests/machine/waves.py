"""The machine's waves by distance: whom the community phase reaches, and when it reaches further.

After the exclusive phase, wave k opens at `after_s` from the opening to the members of the request's profession
within `radius_km` of the patient; the first wave opens with the community phase itself (a request never waits
with nobody to take it), and members beyond the last wave's radius are never offered the request. With no wave,
everyone at once; a patient not placed, everyone at once too, and the operator is told.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from dispatch.requests.decisions import Audience, Decision, Effect, EventSpec, OfferTo, Snapshot, Wave, iso
from dispatch.requests.states import EventType as E
from dispatch.requests.states import State

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the distance as the crow flies between two points (haversine), in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def wave_opens_at(opened_at: datetime, wave: Wave) -> datetime:
    return opened_at + timedelta(seconds=wave.after_s)


def _due(waves: tuple[Wave, ...], opened_at: datetime, now: datetime) -> int:
    """How many waves are due at `now` (at least the first: it opens with the community phase)."""
    return max(1, sum(1 for wave in waves if wave_opens_at(opened_at, wave) <= now))


def _open_waves(
    waves: tuple[Wave, ...], opened_at: datetime, now: datetime
) -> tuple[tuple[Effect, ...], tuple[EventSpec, ...], dict[str, Any]]:
    due = _due(waves, opened_at, now)
    radius = waves[due - 1].radius_km
    next_at = wave_opens_at(opened_at, waves[due]) if due < len(waves) else None
    event = EventSpec(E.WAVE_OPENED, {"wave": due, "radius_km": radius, "next_wave_at": iso(next_at)})
    offer = OfferTo(Audience.COMMUNITY, radius_km=radius, unplaced_members=next_at is None)
    return (offer,), (event,), {"waves_opened": due, "next_wave_at": next_at}


def community_offers(
    *, waves: tuple[Wave, ...], opened_at: datetime, placed: bool, now: datetime
) -> tuple[tuple[Effect, ...], tuple[EventSpec, ...], dict[str, Any]]:
    """Decide whom the community phase opens to at `now`: the waves due (the first at least), or everyone.

    Returns the offer's effect, the events (the wave opened, or the patient not placed) and the request's columns.
    """
    if not waves:
        return (OfferTo(Audience.COMMUNITY),), (), {}
    if not placed:
        event = EventSpec(E.UNPLACED, {"waves": [wave.as_data() for wave in waves]})
        return (OfferTo(Audience.COMMUNITY),), (event,), {"waves_opened": len(waves), "next_wave_at": None}
    return _open_waves(waves, opened_at, now)


def next_wave(snapshot: Snapshot, *, now: datetime) -> Decision | None:
    """Return the waves that open at `now` in the community phase (those due since the last), or None."""
    if (
        snapshot.state != State.COMMUNITY
        or snapshot.next_wave_at is None
        or now < snapshot.next_wave_at
        or now >= snapshot.expires_at
        or snapshot.opened_at is None
    ):
        return None
    effects, events, values = _open_waves(snapshot.waves, snapshot.opened_at, now)
    return Decision(State.COMMUNITY, snapshot.exclusive_until, snapshot.expires_at, events, effects, values)


Place = tuple[float, float]


def reached(
    member_ids: list[int], *, places: dict[int, Place], patient: Place | None, offer: OfferTo
) -> tuple[list[int], dict[int, float]]:
    """Return which of these members an offer reaches and each one's distance from the patient, when known.

    Within the offer's radius (its bound included); a member whose practice is not placed only when the offer says so.
    The nearest come first (their offers, and so their pushes, leave first), then the unplaced in the given order.
    """
    chosen: list[int] = []
    distances: dict[int, float] = {}
    for member_id in member_ids:
        place = places.get(member_id)
        distance = distance_km(*patient, *place) if patient is not None and place is not None else None
        if distance is not None:
            distances[member_id] = round(distance, 3)
        if (
            offer.radius_km is None
            or (distance is None and offer.unplaced_members)
            or distance is not None
            and distance <= offer.radius_km
        ):
            chosen.append(member_id)
    far = math.inf
    chosen.sort(key=lambda member_id: distances.get(member_id, far))  # stable: the unplaced keep their order
    return chosen, {member_id: distances[member_id] for member_id in chosen if member_id in distances}
