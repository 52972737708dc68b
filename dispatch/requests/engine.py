"""How a use case writes the machine's decisions: read a snapshot, ask the machine, write the decision, commit.

Nothing here decides: states, deadlines, events and side effects all come from `machine`. Every write of a
request is conditional on the version it read (the mapper's version column), so a decision taken on a stale
read fails with StaleDataError; the use case then reads again and asks the machine again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.orm.exc import StaleDataError

from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.events import Actor, record_event
from dispatch.requests import effects
from dispatch.requests.decisions import ActorOffer, Decision, Refusal, Snapshot, Wave
from dispatch.requests.models import Offer, Request

if TYPE_CHECKING:
    from dispatch.auth.models import User

RETRIES = 3  # a decision taken on a stale read is taken again, at most this many times

# How each refusal of the machine is answered, on every edge: (HTTP status, French detail).
ANSWERS: dict[Refusal, tuple[int, str]] = {
    Refusal.CLOSED: (409, "La demande n'est plus ouverte."),
    Refusal.ALREADY_ACCEPTED: (409, "La demande a déjà été acceptée par un autre médecin."),
    Refusal.NOT_ELIGIBLE: (403, "Cette demande ne vous est pas proposée en ce moment."),
    Refusal.NOT_ACCEPTED: (409, "La demande n'a pas été acceptée."),
    Refusal.NOT_ACCEPTED_BY_YOU: (409, "Vous n'avez pas accepté cette demande\u00a0: ce n'est pas à vous de vous en désister."),
    Refusal.ALREADY_RECORDED: (409, "L'issue de la consultation est déjà enregistrée."),
    Refusal.TOO_EARLY: (409, "L'issue de la consultation s'enregistre à partir de l'heure du rendez-vous."),
    Refusal.STILL_OPEN: (409, "La demande est encore ouverte."),
    Refusal.NOT_EXPIRED: (409, "Seule une demande expirée sans médecin se rappelle."),
    Refusal.OUTCOME_FINAL: (
        409,
        "L'issue est définitive\u00a0: une erreur de saisie se corrige dans les 24 heures qui suivent l'enregistrement.",
    ),
    Refusal.ALREADY_RELAUNCHED: (409, "Cette demande a déjà été relancée\u00a0: une relance au plus, suivez la nouvelle demande."),
    Refusal.TOO_LATE: (409, "L'heure du rendez-vous est passée : vous ne pouvez plus vous désister, indiquez l'issue."),
    Refusal.BIRTH_DATE_REQUIRED: (
        422,
        "La date de naissance du patient est obligatoire\u00a0: la synthèse part au médecin traitant par messagerie "
        "sécurisée, et le document national (CDA) l'exige. Lisez-la sur sa carte Vitale.",
    ),
    Refusal.APPOINTMENT_PAST: (422, "Certains champs sont invalides."),
    Refusal.APPOINTMENT_TOO_FAR: (422, "Certains champs sont invalides."),
}
# Refusals that name a field of the body: the problem's `errors` point at it, as a validation error does.
FIELDS: dict[Refusal, tuple[str, str]] = {
    Refusal.BIRTH_DATE_REQUIRED: (
        "patient_birth_date",
        "Indiquez la date de naissance du patient (pour le document envoyé au médecin traitant).",
    ),
    Refusal.TOO_EARLY: ("outcome", "L'issue s'enregistre à partir de l'heure du rendez-vous."),
    Refusal.APPOINTMENT_PAST: ("appointment_at", "Ce rendez-vous est déjà passé\u00a0: indiquez une heure à venir."),
    Refusal.APPOINTMENT_TOO_FAR: ("appointment_at", "Le rendez-vous doit avoir lieu dans les 24 heures."),
}
# Refusals answered as invalid input (the API's `invalid` code), not under their own code.
_INVALID = frozenset({Refusal.APPOINTMENT_PAST, Refusal.APPOINTMENT_TOO_FAR})


class Rejected(Problem):
    """The machine refused the action: its HTTP status, its code (the refusal) and French detail, on every edge.

    `field_message` replaces the field's standard message when the use case can say more (the time it is now).
    """

    def __init__(self, refusal: Refusal, *, field_message: str | None = None, extra: dict[str, Any] | None = None) -> None:
        status, detail = ANSWERS.get(refusal, (409, "Conflit."))
        field = FIELDS.get(refusal)
        errors = {field[0]: [field_message or field[1]]} if field else None
        super().__init__(status, "invalid" if refusal in _INVALID else refusal.value, detail, errors=errors, extra=extra)
        self.refusal = refusal


def load_request(request_id: int) -> Request:
    """Return the request or answer 404."""
    request = db.session.get(Request, request_id)
    if request is None:
        raise Problem(404, "not_found", "Demande introuvable.")
    return request


# A writer's claim on a request it read at some version: the row's version moves, nothing else (no rollup reads it).
_CLAIM = (
    update(Request)
    .where(Request.id == bindparam("request_id"), Request.version == bindparam("read_version"))
    .values(version=Request.version + 1)
    .execution_options(synchronize_session=False)
)


def claim(request_id: int, version: int) -> bool:
    """Take the request's row for this transaction if it is still at the version read; False if a writer moved it.

    The statement waits for a writer holding the row (PostgreSQL's row lock, SQLite's write lock) and, once that
    writer has committed, matches nothing: the caller rolls back and reads what is, instead of loading the request,
    writing a whole decision and finding it stale at its flush.
    """
    result: CursorResult[Any] = db.session.execute(_CLAIM, {"request_id": request_id, "read_version": version})  # type: ignore[assignment]
    return result.rowcount == 1


def actor(user: User, client: str | None) -> Actor:
    """Return the audit-trail actor for a user acting from `client`."""
    return Actor(user_id=user.id, role=user.role, client=client)


# The acting physician's offer of a request: its status and phase (a snapshot's `actor_offer`).
_ACTOR_OFFER = select(Offer.status, Offer.phase).where(
    Offer.request_id == bindparam("request_id"), Offer.physician_id == bindparam("physician_id")
)


def treating_address(request: Request) -> str | None:
    """Return the MSSanté address of the request's treating GP, member or not."""
    if request.treating_physician_id is not None:
        physician = db.session.get(Physician, request.treating_physician_id)
        if physician is not None and physician.mssante:
            return physician.mssante
    return request.treating_mssante


def snapshot(
    request: Request | Any, *, physician_id: int | None = None, offer: ActorOffer | None = None, with_treating_address: bool = False
) -> Snapshot:
    """Return what the machine needs of a request (a row or a light read with the same columns).

    With `physician_id`, the actor's offer is read too (unless given as `offer`).
    """
    if physician_id is not None and offer is None:
        row = db.session.execute(_ACTOR_OFFER, {"request_id": request.id, "physician_id": physician_id}).first()
        offer = ActorOffer(row.status, row.phase) if row is not None else None
    return Snapshot(
        state=request.state,
        exclusive_until=request.exclusive_until,
        expires_at=request.expires_at,
        treating_physician_id=request.treating_physician_id,
        accepted_by_id=request.accepted_by_id,
        opened_at=request.opened_at,
        community_at=request.community_at,
        outside_treating_reachable=bool(request.treating_mssante),
        patient_reachable=bool(request.patient_phone),
        actor_offer=offer,
        treating_address=treating_address(request) if with_treating_address else None,
        appointment_at=getattr(request, "appointment_at", None),
        releases=getattr(request, "releases", 0) or 0,
        called_back=getattr(request, "callback_result", None) is not None,
        birth_date_known=getattr(request, "patient_birth_date", None) is not None,
        outcome_at=getattr(request, "outcome_at", None),
        has_synthesis=getattr(request, "synthesis_status", None) is not None,
        waves=waves_of(getattr(request, "plan_waves", None)),
        next_wave_at=getattr(request, "next_wave_at", None),
        patient_placed=getattr(request, "patient_lat", None) is not None and getattr(request, "patient_lon", None) is not None,
        requested=getattr(request, "requester_id", None) is not None,
        teleconsultation=getattr(request, "modality", None) == "teleconsultation",
    )


def waves_of(data: list[dict[str, Any]] | None) -> tuple[Wave, ...]:
    """Return the waves copied onto a request, as the machine reads them."""
    return tuple(Wave(int(wave["after_s"]), float(wave["radius_km"])) for wave in data or ())


def write(request: Request, decision: Decision, *, now: datetime, actor: Actor, batch: effects.Batch | None = None) -> None:
    """Write a decision on `request` in the caller's transaction: its columns, its events, its effects.

    Without a batch, the request's conditional UPDATE is sent first (raising StaleDataError when another writer
    got there first), so that nothing else is written for a decision that lost.
    """
    for name, value in decision.columns(next_wave_at=request.next_wave_at).items():
        setattr(request, name, value)
    if batch is None:
        db.session.flush()
    for spec in decision.events:
        record_event(request.id, type=spec.type, at=now, actor=actor, data=spec.data)
    effects.carry_out(request, decision.effects, now=now, batch=batch)


Decide = Callable[[Snapshot], "Decision | Refusal"]


def decide_and_write(
    request: Request,
    decide: Decide,
    *,
    now: datetime,
    actor: Actor,
    physician_id: int | None = None,
    refresh_on_refusal: bool = False,
    with_treating_address: bool = False,
    field_message: Callable[[Refusal], str | None] = lambda refusal: None,
) -> Request:
    """Ask the machine (`decide(snapshot)`), write its decision and commit; again on a stale read."""
    for attempt in range(RETRIES):
        decision = decide(snapshot(request, physician_id=physician_id, with_treating_address=with_treating_address))
        if isinstance(decision, Refusal) and refresh_on_refusal and attempt == 0:
            # The request may have moved since the caller read it (a winner committed): decide on what is.
            db.session.refresh(request)
            decision = decide(snapshot(request, physician_id=physician_id))
        if isinstance(decision, Refusal):
            raise Rejected(decision, field_message=field_message(decision))
        if not decision.changes:
            return request  # repeated by the same physician: harmless
        try:
            write(request, decision, now=now, actor=actor)
            db.session.commit()
            return request
        except (StaleDataError, effects.Stale):
            db.session.rollback()
            fresh = db.session.get(Request, request.id, populate_existing=True)
            if fresh is None:
                raise Rejected(Refusal.CLOSED) from None
            request = fresh
    raise Rejected(Refusal.CLOSED)
