"""Who may see a request, and how much of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dispatch.auth.models import User
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.escalation.models import Offer, Request
from dispatch.web import member_role


def load_request(request_id: int) -> Request:
    """Return the request or answer 404."""
    request = db.session.get(Request, request_id)
    if request is None:
        raise Problem(404, "not_found", "Demande introuvable.")
    return request


def view_level(user: User, request: Request | Any) -> str | None:
    """Return 'full', 'anonymised' or None (not visible) for this user (of a request or a row with its ids)."""
    if user.role == "admin":
        return "full"
    role = member_role(user, request.community_id)
    if role in ("operator", "coordinator"):
        return "full"
    if user.role != "physician":
        return None
    physician = user.physician  # on the API, loaded with the user (resolve_token)
    if physician is None:
        return None
    physician_id = physician.id
    if physician_id in (request.treating_physician_id, request.accepted_by_id):
        return "full"
    offered = db.session.scalar(select(Offer.id).where(Offer.request_id == request.id,
                                                       Offer.physician_id == physician_id))
    return "anonymised" if offered is not None else None


def staff_request(user: User, request_id: int) -> Request:
    """Return a request that an operator, coordinator or admin may act on; 403 or 404 otherwise."""
    request = load_request(request_id)
    level = view_level(user, request)
    if level is None:
        raise Problem(404, "not_found", "Demande introuvable.")
    if user.role != "admin" and member_role(user, request.community_id) not in ("operator", "coordinator"):
        raise Problem(403, "forbidden", "Réservé aux opérateurs et coordinateurs de la communauté.")
    return request
