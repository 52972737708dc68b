"""The physician's use cases on a request: accept, refuse, record the outcome, hand the patient back.

One function per action, called alike by the phone's API and the physician's pages. Each owns the permission
(`policy`), the machine's decision with every window it applies, the commit, and the access-trail line of the
view it returns (`disclosure`): a view only parses, calls and renders.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from dispatch import policy, teleconsultation, texts
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.policy import Action
from dispatch.requests import disclosure, machine, queries
from dispatch.requests.decisions import ActorOffer, Refusal
from dispatch.requests.engine import RETRIES, Rejected, actor, claim, decide_and_write, load_request, snapshot
from dispatch.requests.models import Request
from dispatch.requests.schemas import birth_date_errors
from dispatch.requests.states import State

if TYPE_CHECKING:
    from dispatch.auth.models import User
    from dispatch.communities.models import Physician

Shown = dict[str, Any]  # a request as its user may see it (disclosure's presentation)


def accept_offer(
    *,
    user: User,
    request_id: int,
    appointment_at: datetime,
    place: str | None,
    now: datetime,
    client: str | None,
    teleconsultation_url: str | None = None,
) -> Shown:
    """Take the patient for an appointment at `appointment_at`: the first acceptance wins, exactly once.

    When many physicians accept at once all but one lose: each loser is answered from one light read and the
    machine, before any request is loaded; one that read before the winner committed waits on its claim of the row
    (`engine.claim`), then reads again and is answered the same way. The winner is shown the patient, the read
    recorded with the acceptance. A teleconsultation needs the link of the physician's tool, on a host the community
    allows (422 otherwise).
    """
    physician = policy.acting_physician(user)

    def explain(refusal: Refusal) -> str | None:
        return _appointment_message(refusal, appointment_at, now=now, community_id=community_id)

    for _attempt in range(RETRIES):
        seen = db.session.execute(queries.ACCEPT_SEEN, {"request_id": request_id, "physician_id": physician.id}).first()
        if seen is None:
            raise Problem(404, "not_found", "Demande introuvable.")
        community_id: int = seen.community_id
        disclosure.require(user, Action.ACCEPT, seen, offered=seen.offer_status is not None)
        offer = ActorOffer(seen.offer_status, seen.offer_phase) if seen.offer_status is not None else None
        verdict = machine.accept(
            snapshot(seen, offer=offer), physician_id=physician.id, now=now, appointment_at=appointment_at, place=None
        )
        if isinstance(verdict, Refusal):
            raise Rejected(verdict, field_message=explain(verdict))
        _check_link(seen, teleconsultation_url)
        if claim(request_id, seen.version):
            break
        # A writer (the winner of a race, most often) moved the request after the read and has committed: read again.
        db.session.rollback()
    else:
        raise Rejected(Refusal.CLOSED)
    request = db.session.get(Request, request_id, populate_existing=True)
    if request is None:
        raise Problem(404, "not_found", "Demande introuvable.")
    with disclosure.answering(user, request_id, what="accept", now=now, client=client) as shown:
        request = decide_and_write(
            request,
            lambda shot: machine.accept(
                shot,
                physician_id=physician.id,
                now=now,
                appointment_at=appointment_at,
                place=place or physician.address,
                teleconsultation_url=teleconsultation_url,
            ),
            now=now,
            actor=actor(user, client),
            physician_id=physician.id,
            field_message=explain,
        )
        return shown(request)


def _check_link(seen: Any, url: str | None) -> None:
    """Refuse (422) a teleconsultation accepted without a link on an allowed host, or a link for an in-person visit."""
    if seen.modality == "teleconsultation":
        community = db.session.get(Community, seen.community_id)
        problem = teleconsultation.link_problem(url, community.teleconsultation_hosts if community is not None else None)
    else:
        problem = "Cette demande est une consultation en présentiel\u00a0: pas de lien de téléconsultation." if url else None
    if problem is not None:
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors={"teleconsultation_url": [problem]})


def refuse_offer(*, user: User, request_id: int, reason: str | None, now: datetime, client: str | None) -> Shown:
    """Decline the request; the treating GP's refusal opens it to the community at once."""
    physician, request = _acting(user, request_id, Action.REFUSE)
    request = decide_and_write(
        request,
        lambda shot: machine.refuse(shot, physician_id=physician.id, now=now, reason=reason),
        now=now,
        actor=actor(user, client),
        physician_id=physician.id,
    )
    return disclosure.show(user, request, what="refuse", now=now, client=client, action=Action.REFUSE)


def record_outcome(
    *,
    user: User,
    request_id: int,
    outcome: str,
    synthesis: str | None,
    birth_date: date | None,
    now: datetime,
    client: str | None,
) -> Shown:
    """Record whether the patient came (from the appointment on), with the synthesis for their treating GP.

    `birth_date` completes a request opened without the patient's; it is required when the synthesis goes to the
    treating GP over MSSanté (Rejected `birth_date_required`), and never in the future (422 `invalid`).
    """
    physician, request = _acting(user, request_id, Action.OUTCOME)
    tz = request.community.timezone
    errors = birth_date_errors(birth_date, today=texts.local(now, tz).date())
    if errors:
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors=errors)
    appointment_at = request.appointment_at

    def explain(refusal: Refusal) -> str | None:
        if refusal is Refusal.TOO_EARLY and appointment_at is not None:
            return f"L'issue s'enregistre à partir du rendez-vous ({texts.appointment_label(appointment_at, tz, now)})."
        return None

    request = decide_and_write(
        request,
        lambda shot: machine.record_outcome(
            shot, physician_id=physician.id, outcome=outcome, synthesis=synthesis, now=now, birth_date=birth_date
        ),
        now=now,
        actor=actor(user, client),
        with_treating_address=outcome == State.SEEN,
        field_message=explain,
    )
    return disclosure.show(user, request, what="outcome", now=now, client=client, action=Action.OUTCOME)


def release_patient(*, user: User, request_id: int, reason: str, now: datetime, client: str | None) -> Shown:
    """Hand the patient back before the appointment: the request is offered to the community again, the patient told."""
    physician, request = _acting(user, request_id, Action.RELEASE)
    request = decide_and_write(
        request,
        lambda shot: machine.release(shot, physician_id=physician.id, now=now, reason=reason),
        now=now,
        actor=actor(user, client),
    )
    # Handed back, the physician is no longer the winner: they see what any physician it is offered to sees.
    return disclosure.show(user, request, what="release", now=now, client=client, action=Action.READ)


def synthesis_outlook(*, request: Request, physician: Physician) -> tuple[str, bool]:
    """Return what would become of a synthesis `physician` writes now (pending: sent, not_needed, not_sendable), and
    whether seeing the patient needs their birth date first (a synthesis to send, none known): what the pages ask."""
    shot = snapshot(request, with_treating_address=True)
    fate = machine.synthesis_status(shot, physician_id=physician.id)
    return fate, machine.birth_date_needed(shot, physician_id=physician.id)


def _acting(user: User, request_id: int, action: Action) -> tuple[Physician, Request]:
    """Return the acting physician and the request if the policy lets them do `action` to it; 403 or 404 otherwise."""
    physician = policy.acting_physician(user)
    request = load_request(request_id)
    disclosure.require(user, action, request)
    return physician, request


def _appointment_message(refusal: Refusal, appointment_at: datetime, *, now: datetime, community_id: int) -> str | None:
    """Return what to say of an appointment out of the window, with the times in the community's zone (None otherwise)."""
    if refusal not in (Refusal.APPOINTMENT_PAST, Refusal.APPOINTMENT_TOO_FAR):
        return None
    community = db.session.get(Community, community_id)
    tz = community.timezone if community is not None else "Europe/Paris"
    if refusal is Refusal.APPOINTMENT_PAST:
        when = texts.appointment_label(appointment_at, tz, now)
        return f"Ce rendez-vous ({when}) est déjà passé : il est {texts.hhmm(now, tz)}. Indiquez une heure à venir."
    latest = now + machine.APPOINTMENT_WINDOW.ahead
    return f"Le rendez-vous doit avoir lieu dans les 24 heures, au plus tard {texts.appointment_label(latest, tz, now)}."
