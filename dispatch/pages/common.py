"""Helpers shared by the pages: the community in view, form parsing, French labels and local times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma
from flask import request
from sqlalchemy import select

from dispatch import policy, professions, texts
from dispatch.auth.models import User
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.errors import Problem, flatten
from dispatch.pages import history
from dispatch.phones import national
from dispatch.policy import Action
from dispatch.web import MAX_ID

STATE_LABELS, SOURCE_LABELS, TREATING_LABELS = texts.STATE_LABELS, texts.SOURCE_LABELS, texts.TREATING_LABELS
ROLE_LABELS = {
    "admin": "Administrateur",
    "coordinator": "Coordinateur",
    "operator": "Opérateur",
    "physician": "Médecin",
    "professional": "Professionnel de santé",
    "requester": "Demandeur",
}
# The history's words are dispatch.pages.history's (one place for every event type).
EVENT_LABELS, REASON_LABELS = history.EVENT_LABELS, history.REASON_LABELS
LABELS = {
    "states": STATE_LABELS,
    "sources": SOURCE_LABELS,
    "motives": texts.MOTIVE_LABELS,
    "kinds": texts.KIND_LABELS,
    "treating": TREATING_LABELS,
    "roles": ROLE_LABELS,
    "events": EVENT_LABELS,
    "reasons": REASON_LABELS,
    "callbacks": history.CALLBACK_LABELS,
    "outcomes": texts.OUTCOME_LABELS,
    "regions": texts.REGION_LABELS,
    "professions": professions.PROFESSIONS,
    "acts": professions.NURSE_ACTS,
    "words": professions.WORDS,
}


def pick_community(user: User, action: Action | None = None) -> Community:
    """Return the community asked for in ?community= (or the user's first one) where the user may do `action`."""
    wanted = request.values.get("community", type=int)
    if wanted is not None and not 1 <= wanted <= MAX_ID:  # beyond the database's integers: no such community
        raise Problem(404, "not_found", "Communauté introuvable.")
    ids = policy.communities_for(user, action)
    if ids is None:  # every community
        community = (
            db.session.get(Community, wanted) if wanted else db.session.scalar(select(Community).order_by(Community.id).limit(1))
        )
    else:
        if wanted is not None and wanted not in ids:
            raise Problem(404, "not_found", "Communauté introuvable.")
        community = db.session.get(Community, wanted or ids[0]) if (wanted or ids) else None
    if community is None:
        raise Problem(404, "not_found", "Aucune communauté à afficher.")
    return community


def user_communities(user: User, action: Action | None = None) -> list[Community]:
    """Return the communities where the user may do `action` (with any role if None; every one for an admin)."""
    query = select(Community).order_by(Community.name)
    ids = policy.communities_for(user, action)
    if ids is not None:
        query = query.where(Community.id.in_(ids))
    return list(db.session.scalars(query))


def nested_form(*, ints: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the posted form as nested dicts ('patient.city' → {'patient': {'city': ...}}), blanks left out."""
    data: dict[str, Any] = {}
    for key, value in request.form.items():
        if key == "csrf_token" or not value.strip():
            continue
        target = data
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = int(value) if key in ints and value.strip().isdigit() else value
    return data


def validate(schema: ma.Schema, data: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """Load `data` with an API schema; return the result or the errors keyed by field path, as the API says them."""
    try:
        return schema.load(data), {}
    except ma.ValidationError as exc:
        return None, flatten(exc.messages)


def local_time(at: datetime | None, tz: str, fmt: str = "%H:%M") -> str:
    """Return a UTC time as the community's local time ('' for None)."""
    return texts.local(at, tz).strftime(fmt) if at else ""


def iso(at: datetime | None) -> str | None:
    """Return a time in ISO 8601 UTC with Z."""
    return at.isoformat().replace("+00:00", "Z") if at else None


def user_zone(user: User) -> str:
    """Return the time zone of the user's first community (Europe/Paris if they have none)."""
    for membership in sorted(user.memberships, key=lambda m: m.community_id):
        community = db.session.get(Community, membership.community_id)
        if community is not None:
            return community.timezone
    return "Europe/Paris"


appointment_label = texts.appointment_label  # the pages' name for it


def phone_link(e164: str | None) -> dict[str, str] | None:
    """Return a patient's phone for a `tel:` link and for the eye, in the national format (06 12 34 56 78)."""
    if not e164:
        return None
    text = national(e164)  # as the patient's SMS writes the practice's (dispatch.phones)
    return {"href": "tel:" + "".join(c for c in text if c.isdigit() or c == "+"), "text": text}


CACHEABLE = "X-Dispatch-Cacheable"  # the only pages the service worker may keep on the device carry it (sw.js)


def cacheable(response: Any) -> Any:
    """Mark a page that shows no patient's identity as one the service worker may keep for offline use."""
    response.headers[CACHEABLE] = "anonymised"
    return response
