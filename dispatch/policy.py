"""Who may do what to a request or a community, and which view of a request they get: the one home of permissions.

Pure: it reads the user's role, memberships and physician record, and the request's ids; whether the request was
offered to the user is asked of the caller (`offered`), only when it matters. `dispatch.requests.disclosure` is
its caller for requests: the full view leaves it only with its line in the access trail.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dispatch.errors import Problem

if TYPE_CHECKING:
    from dispatch.auth.models import User
    from dispatch.communities.models import Physician


class Standing(enum.StrEnum):
    """What a user is to a request (or to its community)."""

    ADMIN = "admin"  # the installation's administrator
    OPERATOR = "operator"  # an operator of the community
    COORDINATOR = "coordinator"  # a coordinator (CPTS staff) of the community
    MEMBER = "physician"  # a physician member of the community
    TREATING = "treating"  # the patient's treating GP
    WINNER = "winner"  # the physician who accepted the request
    OFFERED = "offered"  # a physician the request was offered to
    REQUESTER = "requester"  # a requester of the community (a nurse, a pharmacist, an EHPAD's staff)
    OWNER = "owner"  # the requester who opened the request, for their patient


class View(enum.StrEnum):
    FULL = "full"
    ANONYMISED = "anonymised"


class Action(enum.StrEnum):
    OPEN = "open"  # open a request in a community
    LIST = "list"  # list a community's requests (and follow them in the console)
    READ = "read"  # read one request
    CANCEL = "cancel"
    EVENTS = "events"  # a request's audit trail
    ACCESSES = "accesses"  # who read a request's patient identity
    ACCEPT = "accept"
    REFUSE = "refuse"
    OUTCOME = "outcome"
    RELEASE = "release"  # hand the patient back before the appointment
    CALL = "call"  # record a call triaged without a request
    CALLBACK = "callback"  # record the call-back of an expired request's patient
    RELAUNCH = "relaunch"  # open a new request for the same patient and motive
    RETURNING = "returning"  # find a patient's requests of the last 30 days in the community (before opening one)
    SYNTHESIS_PDF = "synthesis_pdf"  # the consultation report: it names the patient
    MANAGE_COMMUNITY = "manage_community"  # a community's settings, members, figures and exports
    CREATE_COMMUNITY = "create_community"
    ACCOUNT_TRAIL = "account_trail"  # the trail of members' accounts: who changed their contacts, sent them links
    MAIL_POLICY = "mail_policy"  # whether a community's treating GPs may have addresses outside MSSanté
    SUBJECT_REQUESTS = "subject_requests"  # a data subject's access and erasure (GDPR articles 15 and 17)
    RECTIFY = "rectify"  # correct a request's patient identity or phone (GDPR article 16)
    RULES = "rules"  # read a community's rules per profession (windows and waves), published to its members
    REQUEST = "request"  # open a request for a patient in front of them (a requester, with the patient's consent)
    FOLLOW = "follow"  # list and follow the requests they opened themselves (a requester)


S = Standing
# Which view each standing gives (the best one held wins); a standing not listed sees nothing. The patient's identity
# is for three people only: the community's operators, the treating GP and the physician who accepted.
VIEWS: dict[Standing, View] = {
    S.ADMIN: View.ANONYMISED,
    S.OPERATOR: View.FULL,
    S.COORDINATOR: View.ANONYMISED,
    S.TREATING: View.FULL,
    S.WINNER: View.FULL,
    S.OFFERED: View.ANONYMISED,
    S.OWNER: View.FULL,  # their own patient, in front of them when they opened it
}
_FULL = frozenset(s for s, view in VIEWS.items() if view is View.FULL)
# Who is entitled to what. Physicians' actions are then decided by the escalation machine (who is eligible when).
ENTITLED: dict[Action, frozenset[Standing]] = {
    Action.OPEN: frozenset({S.OPERATOR, S.COORDINATOR}),
    Action.LIST: frozenset({S.OPERATOR, S.COORDINATOR, S.ADMIN}),
    Action.READ: frozenset(VIEWS),
    Action.CANCEL: frozenset({S.OPERATOR, S.COORDINATOR, S.OWNER}),  # the requester cancels their own while it is open
    Action.EVENTS: frozenset({S.OPERATOR, S.COORDINATOR, S.ADMIN}),
    Action.ACCESSES: frozenset({S.COORDINATOR, S.ADMIN}),
    Action.ACCEPT: frozenset({S.TREATING, S.WINNER, S.OFFERED, S.MEMBER}),
    Action.REFUSE: frozenset({S.TREATING, S.WINNER, S.OFFERED, S.MEMBER}),
    Action.OUTCOME: frozenset({S.WINNER}),
    Action.RELEASE: frozenset({S.WINNER}),
    Action.CALL: frozenset({S.OPERATOR}),
    Action.CALLBACK: frozenset({S.OPERATOR}),
    Action.RELAUNCH: frozenset({S.OPERATOR}),
    Action.RETURNING: frozenset({S.OPERATOR}),
    Action.SYNTHESIS_PDF: _FULL - {S.OWNER},  # the consultation report is for the treating GP, not the requester
    Action.MANAGE_COMMUNITY: frozenset({S.COORDINATOR, S.ADMIN}),
    Action.CREATE_COMMUNITY: frozenset({S.ADMIN}),
    Action.ACCOUNT_TRAIL: frozenset({S.ADMIN}),
    Action.MAIL_POLICY: frozenset({S.ADMIN}),
    Action.SUBJECT_REQUESTS: frozenset({S.COORDINATOR}),
    Action.RECTIFY: frozenset({S.OPERATOR}),
    Action.RULES: frozenset({S.OPERATOR, S.COORDINATOR, S.ADMIN, S.MEMBER}),
    Action.REQUEST: frozenset({S.REQUESTER}),
    Action.FOLLOW: frozenset({S.REQUESTER}),
}

_HIDDEN_REQUEST = (404, "not_found", "Demande introuvable.")
_HIDDEN_COMMUNITY = (404, "not_found", "Communauté introuvable.")
_COMMUNITY_KNOWN = frozenset({S.ADMIN, S.OPERATOR, S.COORDINATOR, S.MEMBER, S.REQUESTER})
_ROLES = frozenset(s.value for s in Standing)


@dataclass(frozen=True)
class Refusal:
    """How a refused action is answered: 403 to those who may know the request (or community), else `hidden`."""

    code: str = "forbidden"
    detail: str = "Votre rôle ne permet pas cette action."
    known_to: frozenset[Standing] = frozenset(VIEWS)
    hidden: tuple[int, str, str] = _HIDDEN_REQUEST
    errors: dict[str, list[str]] = field(default_factory=dict)
    # Standings for whom the refusal is a conflict with the request's state, not their role: 409 with (code, detail).
    conflict_for: frozenset[Standing] = frozenset()
    conflict: tuple[str, str] = ("conflict", "Conflit.")


REFUSALS: dict[Action, Refusal] = {
    Action.OPEN: Refusal(
        detail="Seuls les opérateurs et coordinateurs ouvrent des demandes.",
        known_to=_COMMUNITY_KNOWN,
        hidden=(422, "invalid", "Communauté inconnue."),
        errors={"community_id": ["Communauté inconnue."]},
    ),
    Action.LIST: Refusal(detail="Réservé aux opérateurs, coordinateurs et administrateurs."),
    Action.READ: Refusal(known_to=frozenset()),
    Action.CANCEL: Refusal(
        detail="Seuls les opérateurs et coordinateurs de la communauté, ou le demandeur qui l'a ouverte, annulent une demande."
    ),
    Action.EVENTS: Refusal(detail="Réservé aux opérateurs et coordinateurs de la communauté."),
    Action.ACCESSES: Refusal(detail="Réservé aux coordinateurs de la communauté et aux administrateurs."),
    Action.OUTCOME: Refusal(
        code="not_eligible",
        detail="Seul le médecin qui a accepté la demande peut en donner l'issue.",
        known_to=frozenset(VIEWS) | {S.MEMBER},
    ),
    Action.RELEASE: Refusal(
        detail="Seul le médecin qui a accepté la demande peut s'en désister.",
        known_to=frozenset(VIEWS) | {S.MEMBER},
        # A physician of the community who did not take it (yet, or another took it): the state answers, as the
        # contract says ("409 if not accepted by me"); other roles are refused for their role.
        conflict_for=frozenset({S.TREATING, S.OFFERED, S.MEMBER}),
        conflict=("not_accepted_by_you", "Vous n'avez pas accepté cette demande\u00a0: ce n'est pas à vous de vous en désister."),
    ),
    Action.CALL: Refusal(
        detail="Seuls les opérateurs de la communauté enregistrent les appels.",
        known_to=_COMMUNITY_KNOWN,
        hidden=(422, "invalid", "Communauté inconnue."),
        errors={"community_id": ["Communauté inconnue."]},
    ),
    Action.CALLBACK: Refusal(detail="Seuls les opérateurs de la communauté enregistrent le rappel du patient."),
    Action.RELAUNCH: Refusal(detail="Seuls les opérateurs de la communauté relancent une demande."),
    Action.RETURNING: Refusal(
        detail="Seuls les opérateurs de la communauté consultent les demandes passées d'un patient.",
        known_to=_COMMUNITY_KNOWN,
        hidden=_HIDDEN_COMMUNITY,
    ),
    Action.SYNTHESIS_PDF: Refusal(known_to=frozenset()),  # it names the patient: the full view or nothing
    Action.MANAGE_COMMUNITY: Refusal(
        detail="Seuls les coordinateurs de la communauté peuvent faire cela.", known_to=_COMMUNITY_KNOWN, hidden=_HIDDEN_COMMUNITY
    ),
    Action.CREATE_COMMUNITY: Refusal(hidden=(403, "forbidden", "Seul un administrateur peut créer une communauté.")),
    Action.ACCOUNT_TRAIL: Refusal(
        code="admin_only",
        detail="Seul l'administrateur lit l'historique des comptes des membres.",
        known_to=_COMMUNITY_KNOWN,
        hidden=_HIDDEN_COMMUNITY,
    ),
    Action.MAIL_POLICY: Refusal(
        code="admin_only",
        detail="Seul l'administrateur décide d'accepter des adresses hors de l'espace MSSanté pour les médecins traitants.",
        known_to=_COMMUNITY_KNOWN,
        hidden=_HIDDEN_COMMUNITY,
    ),
    Action.SUBJECT_REQUESTS: Refusal(
        detail="Seuls les coordinateurs de la communauté traitent les demandes des patients sur leurs données.",
        known_to=_COMMUNITY_KNOWN,
        hidden=_HIDDEN_COMMUNITY,
    ),
    Action.RECTIFY: Refusal(detail="Seuls les opérateurs de la communauté corrigent l'identité d'un patient."),
    Action.RULES: Refusal(known_to=_COMMUNITY_KNOWN, hidden=_HIDDEN_COMMUNITY),
    Action.REQUEST: Refusal(
        detail="Seuls les demandeurs de la communauté (infirmiers, pharmaciens, EHPAD) ouvrent une demande pour leur patient.",
        known_to=_COMMUNITY_KNOWN,
        hidden=(422, "invalid", "Communauté inconnue."),
        errors={"community_id": ["Communauté inconnue."]},
    ),
    Action.FOLLOW: Refusal(detail="Réservé aux demandeurs."),
}


# --- What a user is to a request or a community ------------------------------------------------------------------


def community_standing(user: User, community_id: int | None) -> frozenset[Standing]:
    """Return what the user is to a community: admin, and their role in it."""
    found = {S.ADMIN} if user.role == "admin" else set()
    for membership in user.memberships:
        if membership.community_id == community_id and membership.role in _ROLES:
            found.add(Standing(membership.role))
    return frozenset(found)


Offered = bool | Callable[[], bool]  # whether the request was offered to the user, or how to find out


def standing(user: User, request: Any, *, offered: Offered | None = None) -> frozenset[Standing]:
    """Return what the user is to a request (or a row with its ids); `offered` is asked only when it matters."""
    found = set(community_standing(user, request.community_id))
    if S.REQUESTER in found and getattr(request, "opened_by_id", None) == user.id:
        found.add(S.OWNER)  # a requester's own request: any other of the community is none of theirs (404)
    if user.role == "requester":
        return frozenset(found)
    physician = user.physician  # loaded with the user (resolve_token): no query
    if physician is not None and user.role == "physician":
        if physician.id == request.treating_physician_id:
            found.add(S.TREATING)
        if physician.id == request.accepted_by_id:
            found.add(S.WINNER)
        if not found & {S.TREATING, S.WINNER}:  # those two already give the best view and every physician action
            if offered is None:
                raise TypeError("standing() toward a physician needs `offered`")
            if offered() if callable(offered) else offered:
                found.add(S.OFFERED)
    return frozenset(found)


def view_of(standings: frozenset[Standing]) -> View | None:
    """Return the best view these standings give, or None."""
    views = {VIEWS[s] for s in standings if s in VIEWS}
    return View.FULL if View.FULL in views else View.ANONYMISED if views else None


def allows(
    user: User, action: Action, request: Any = None, *, community_id: int | None = None, offered: Offered | None = None
) -> bool:
    """Tell whether the user may do `action` to the request, or in the community."""
    held = standing(user, request, offered=offered) if request is not None else community_standing(user, community_id)
    return bool(held & ENTITLED[action])


def require(
    user: User, action: Action, request: Any = None, *, community_id: int | None = None, offered: Offered | None = None
) -> frozenset[Standing]:
    """Return what the user is to the request (or community) if they may do `action`; else answer 403, 404 or 422."""
    held = standing(user, request, offered=offered) if request is not None else community_standing(user, community_id)
    if held & ENTITLED[action]:
        return held
    refusal = REFUSALS.get(action, Refusal())
    if held & refusal.conflict_for:
        raise Problem(409, *refusal.conflict)
    if held & refusal.known_to:
        raise Problem(403, refusal.code, refusal.detail)
    status, code, detail = refusal.hidden
    raise Problem(status, code, detail, errors=refusal.errors or None)


def communities_for(user: User, action: Action | None = None) -> list[int] | None:
    """Return the ids of the communities where the user may do `action` (any role if None); None means all."""
    if user.role == "admin" and (action is None or S.ADMIN in ENTITLED[action]):
        return None
    return [
        m.community_id for m in user.memberships if action is None or (m.role in _ROLES and Standing(m.role) in ENTITLED[action])
    ]


def opening_action(user: User) -> Action:
    """Return the action opening a request is for this user: a requester's for their own patient, or a console's."""
    return Action.REQUEST if user.role == "requester" else Action.OPEN


@dataclass(frozen=True)
class Listing:
    """Whose requests a user may list: in which communities (None: all), and only those they opened (`opened_by`)."""

    community_ids: list[int] | None
    opened_by: int | None = None


def require_listing(user: User) -> Listing:
    """Return which requests the user may list (a requester: their own only), or answer 403."""
    if user.role == "requester":
        return Listing(require_somewhere(user, Action.FOLLOW), opened_by=user.id)
    return Listing(require_somewhere(user, Action.LIST))


def require_somewhere(user: User, action: Action) -> list[int] | None:
    """Return the communities where the user may do `action` (None: all), or answer 403 if there is none."""
    ids = communities_for(user, action)
    if ids == []:
        refusal = REFUSALS.get(action, Refusal())
        raise Problem(403, refusal.code, refusal.detail)
    return ids


def role_may(role: str | None, action: Action) -> bool:
    """Tell whether an account of this role can be entitled to `action` at all (which pages it reaches)."""
    return role in _ROLES and Standing(role) in ENTITLED[action]


def acting_physician(user: User) -> Physician:
    """Return the physician record of a physician's account, or answer 403."""
    if user.role != "physician":
        raise Problem(403, "forbidden", "Votre rôle ne permet pas cette action.")
    physician = user.physician  # loaded with the user by resolve_token: no query
    if physician is None:
        raise Problem(403, "forbidden", "Ce compte n'est pas celui d'un médecin.")
    return physician
