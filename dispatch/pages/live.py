"""What keeps the pages live: the rows they show, and small JSON answers polled every second.

Short polling rather than server-sent events: a physician's page asks `/m/etat` (the list) or `/m/requests/<id>/etat`
(an offer), the operator's console `/console/etat` (today's list and its expiry banner) and a request's page in the
console `/console/demandes/<id>/etat` (that request: state, call-back, acceptance, outcome, history), once a second
while it is visible; the console fetches the list itself (`/console/live`, each full view recorded) only when the
digest moved. Each answer is one session lookup and one or two indexed reads, a few hundred bytes, never a patient's
identity and never a line in the access trail; a held-open stream would instead keep a web worker per page
(gunicorn's sync workers) for as long as the page stays open.

Most polls find nothing moved: each answer carries an ETag made of the change counters of the communities it depends
on (`live_versions`), and a poll that sends it back (If-None-Match) gets a 304 from one indexed read of those counters,
without its digest being computed (issue 24, point 7: 3 SQL per poll before, 1 after the session's own lookup); for a
few seconds after a full answer, that 304 comes before the session's lookup too (dispatch.pages.unchanged).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from flask import Response, jsonify, request, session
from sqlalchemy import Select, func, select

from dispatch import policy, texts
from dispatch.db import db
from dispatch.pages import bp, unchanged
from dispatch.pages.common import STATE_LABELS, iso, pick_community
from dispatch.pages.guard import SESSION_KEY, role_page, signed_in
from dispatch.pages.operator import SIGNED_COLUMNS, today_query
from dispatch.pages.operator import list_signature as console_signature
from dispatch.pages.unchanged import Recipe, not_modified
from dispatch.policy import Action
from dispatch.requests import disclosure, live_versions, machine
from dispatch.requests.engine import load_request
from dispatch.requests.machine import current_deadline
from dispatch.requests.models import Event, Offer, Request
from dispatch.requests.states import AWAITING, OPEN_STATES, State
from dispatch.web import now

CLOSED_MESSAGES: dict[str, str] = {
    State.ACCEPTED: "Un confrère a accepté cette demande : elle n'est plus à prendre.",
    State.EXPIRED: "Le délai de réponse est passé : la demande a expiré.",
    State.CANCELLED: "La demande a été annulée par l'opérateur.",
}


def _tag(*parts: object) -> str:
    """Return an ETag value made of `parts` (ids and counters: nothing a stranger could read anything from)."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:20]


def _unless_unchanged(recipe: Recipe | None, counters: dict[int, int], answer: Callable[[], Response]) -> Response:
    """Answer 304 if the poll sent back the tag `recipe` makes of `counters` (nothing it depends on moved), else
    `answer()` carrying that tag; remember the recipe for the polls of the next seconds (dispatch.pages.unchanged).

    The counters are read before the answer is computed: a change committed in between moves them again, so the next
    poll computes afresh; never the other way round.
    """
    if recipe is None:
        return answer()
    tag = recipe.tag(counters, now())
    sid = session.get(SESSION_KEY)
    if isinstance(sid, str) and sid:
        unchanged.remember(sid, request.full_path, recipe)
    if request.if_none_match.contains(tag):
        return not_modified(tag)
    response = answer()
    response.set_etag(tag)
    return response


def _member_of(user: Any, community_id: int) -> bool:
    return any(m.community_id == community_id for m in user.memberships)


def _offers_query(physician_id: int, at: datetime) -> Select[Any]:
    """Return the requests open and offered to the physician now that wait for their answer, newest first."""
    return (
        select(Request)
        .join(Offer, Offer.request_id == Request.id)
        .where(
            Offer.physician_id == physician_id,
            Offer.status.in_(AWAITING),
            Request.state.in_(OPEN_STATES),
            Request.expires_at > at,
        )
        .order_by(Request.id.desc())
        .limit(200)
    )


def _mine_query(physician_id: int) -> Select[Any]:
    """Return the requests the physician took that wait for their outcome, soonest appointment first."""
    return (
        select(Request)
        .where(Request.accepted_by_id == physician_id, Request.state == State.ACCEPTED)
        .order_by(Request.appointment_at)
        .limit(50)
    )


def offered_now(physician_id: int, at: datetime) -> tuple[list[Request], list[Request]]:
    """Return the offers open to the physician and the patients they took who wait for an outcome."""
    return list(db.session.scalars(_offers_query(physician_id, at))), list(db.session.scalars(_mine_query(physician_id)))


def list_signature(offers: Sequence[Any], mine: Sequence[Any]) -> str:
    """Return a short digest of what the list shows: it changes whenever a card comes, goes or changes phase."""
    parts = [f"o{r.id}:{r.state}" for r in offers] + [f"m{r.id}:{r.appointment_at}" for r in mine]
    return hashlib.sha256(",".join(parts).encode()).hexdigest()[:16]


@bp.route("/m/etat")
@role_page(Action.ACCEPT)
def list_state() -> Any:
    """Answer the list's digest, for the page to reload itself when it changed."""
    user = signed_in()
    physician = policy.acting_physician(user)
    communities = tuple(sorted({m.community_id for m in user.memberships}))  # offers come from these only
    physician_id = physician.id  # the recipe outlives the request: plain values only, no row
    recipe = Recipe(communities, lambda counters, _at: _tag("m", physician_id, *(f"{c}.{v}" for c, v in counters.items())))

    def answer() -> Response:
        at = now()
        columns = (Request.id, Request.state, Request.appointment_at)
        offers = db.session.execute(_offers_query(physician.id, at).with_only_columns(*columns)).all()
        mine = db.session.execute(_mine_query(physician.id).with_only_columns(*columns)).all()
        return jsonify({"now": iso(at), "signature": list_signature(offers, mine), "offers": len(offers), "mine": len(mine)})

    return _unless_unchanged(recipe, live_versions.versions(communities), answer)


@bp.route("/m/requests/<int:request_id>/etat")
@role_page(Action.ACCEPT)
def offer_state(request_id: int) -> Any:
    """Answer whether the request is still open to me, and what to tell me if not (no identity, nothing recorded)."""
    user = signed_in()
    recipe, counters = _request_recipe("o", user, request_id)
    return _unless_unchanged(recipe, counters, lambda: _offer_state(user, request_id))


def _request_recipe(kind: str, user: Any, request_id: int) -> tuple[Recipe | None, dict[int, int]]:
    """Return how the tag of a request's digest is made for this user, with its community's counter; None (no such
    request, or not of their communities) when the full answer is to say 404 or 403 as it always did."""
    found = live_versions.request_version(request_id)
    if found is None or not _member_of(user, found[0]):
        return None, {}
    community_id, version = found
    user_id = user.id
    recipe = Recipe((community_id,), lambda counters, _at: _tag(kind, user_id, request_id, community_id, counters[community_id]))
    return recipe, {community_id: version}


def _offer_state(user: Any, request_id: int) -> Response:
    req = load_request(request_id)
    disclosure.require(user, Action.READ, req)
    at = now()
    physician_id = policy.acting_physician(user).id
    offer = db.session.scalar(select(Offer.status).where(Offer.request_id == req.id, Offer.physician_id == physician_id))
    open_to_me = machine.open_to(req.state, req.expires_at, offer, now=at)
    message = None
    if req.accepted_by_id == physician_id:
        message = "Vous avez accepté cette demande."
    elif not open_to_me:
        expired = req.state in OPEN_STATES and req.expires_at <= at
        message = CLOSED_MESSAGES.get(State.EXPIRED if expired else req.state) or "Cette demande ne vous est plus proposée."
    deadline = current_deadline(req.state, req.exclusive_until, req.expires_at)
    return jsonify(
        {
            "now": iso(at),
            "id": req.id,
            "state": req.state,
            "label": STATE_LABELS.get(req.state, req.state),
            "open": open_to_me,
            "mine": req.accepted_by_id == physician_id,
            "deadline": iso(deadline) if open_to_me else None,
            "message": message,
        }
    )


@bp.route("/console/etat")
@role_page(Action.LIST)
def console_state() -> Any:
    """Answer the digest of the console's list, for every operator's console to fetch the list when it moved.

    A request opened, accepted, expired, handed back or called back by anyone changes it: the list and the expiry
    banner follow within the second. No identity, nothing recorded.
    """
    user = signed_in()
    at = now()
    recipe, counters = None, {}
    ids = policy.communities_for(user, Action.LIST)
    wanted = request.values.get("community", type=int)
    community_id = wanted if wanted is not None else (ids[0] if ids else None)
    if ids is not None and community_id is not None and community_id in ids:
        found = live_versions.community_version(community_id)
        if found is not None:  # the list is today's (local time): the day is part of the tag
            recipe, counters = _console_recipe(user.id, community_id, found[0]), {community_id: found[1]}

    def answer() -> Response:
        community = pick_community(user, Action.LIST)
        rows = db.session.execute(today_query(community, at).with_only_columns(*SIGNED_COLUMNS)).all()
        return jsonify({"now": iso(at), "signature": console_signature(rows), "count": len(rows)})

    return _unless_unchanged(recipe, counters, answer)


def _console_recipe(user_id: int, community_id: int, timezone: str) -> Recipe:
    """Return how the console's tag is made: the community's counter and today's date there."""
    return Recipe(
        (community_id,),
        lambda counters, at: _tag("c", user_id, community_id, counters[community_id], texts.local(at, timezone).date()),
    )


# What another desk changes on a request's page; the last event's id stands for everything its history shows.
REQUEST_SIGNED = (
    "state",
    "exclusive_until",
    "expires_at",
    "accepted_by_id",
    "appointment_at",
    "callback_result",
    "outcome",
    "synthesis_status",
)


def request_signature(req: Request) -> str:
    """Return a short digest of one request as its page shows it (no identity: states, instants, ids)."""
    last_event = db.session.scalar(select(func.max(Event.id)).where(Event.request_id == req.id))
    parts = [str(getattr(req, name)) for name in REQUEST_SIGNED] + [str(last_event)]
    return hashlib.sha256(",".join(parts).encode()).hexdigest()[:16]


@bp.route("/console/demandes/<int:request_id>/etat")
@role_page(Action.LIST)
def console_request_state(request_id: int) -> Any:
    """Answer the digest of a request's page, for it to reload when another desk or a physician changed the request.

    The state, the call-back, the acceptance, the outcome, the synthesis and the history: the page follows within 2 s.
    No identity, nothing recorded.
    """
    user = signed_in()

    def answer() -> Response:
        req = load_request(request_id)
        disclosure.require(user, Action.EVENTS, req)  # the page's own audience
        return jsonify({"now": iso(now()), "id": req.id, "state": req.state, "signature": request_signature(req)})

    recipe, counters = _request_recipe("r", user, request_id)
    return _unless_unchanged(recipe, counters, answer)
