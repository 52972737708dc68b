"""Where geocoding happens: at once against the local BAN, or later through the outbox for the Géoplateforme.

`DISPATCH_GEOCODER` says which: `ban` (the default) places an address while its request opens (a few indexed reads);
`geoplateforme` queues the question (channel "geocode") for the worker, so that an opening never waits for the
service nor fails with it, and the answer's hook gives the place (dispatch.delivery); `none` places nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from flask import current_app, has_app_context

from dispatch.geo import ban
from dispatch.geo.normal import Typed
from dispatch.geo.places import Place
from dispatch.notify.outbox import enqueue

BAN, GEOPLATEFORME, NONE = "ban", "geoplateforme", "none"
CHANNEL = "geocode"
PATIENT_KIND = "patient_place"  # a request's patient: the answer places the request (dispatch.requests.placing)
PRACTICE_KIND = "practice_place"  # a member's practice: the answer places the member (dispatch.communities.placing)


def geocoder() -> str:
    """Return which geocoder this app uses (DISPATCH_GEOCODER): ban, geoplateforme or none."""
    if not has_app_context():
        return NONE
    return str(current_app.config.get("DISPATCH_GEOCODER") or BAN)


def place_now(address: Typed) -> Place | None:
    """Place an address at once when the local BAN is the geocoder; None when it is unknown there, or not local."""
    if geocoder() != BAN or not (address.postcode or address.city):
        return None
    return ban.locate(address)


def ask_later(address: Typed, *, kind: str, now: datetime, request_id: int | None = None, physician_id: int | None = None) -> bool:
    """Queue the address for the online geocoder (caller's transaction) when it is the one; say if queued."""
    if geocoder() != GEOPLATEFORME or not (address.postcode or address.city):
        return False
    subject = request_id if request_id is not None else physician_id
    enqueue(
        channel=CHANNEL,
        kind=kind,
        key=f"{kind}:{subject}:{uuid.uuid4().hex}",  # a practice's address may change again: each change asks anew
        now=now,
        payload={"q": address.text},
        request_id=request_id,
        physician_id=physician_id,
    )
    return True
