"""Carry out the machine's effects, one function per effect type, as rows of the caller's transaction.

Offers are written by `offer_store` (which counts them in the report's rollup), messages queued by `messages` (the
outbox sends them after the commit): an effect here only says which of them it takes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dispatch.communities import directory
from dispatch.communities.models import DirectoryEntry
from dispatch.db import db
from dispatch.notify.outbox import enqueue_many
from dispatch.requests import links, messages, offer_store
from dispatch.requests.decisions import (
    AnswerOffer,
    Audience,
    Effect,
    ExtendLinks,
    OfferTo,
    ReOffer,
    SmsPatient,
    SmsPatientReleased,
    StoreSynthesis,
    TellOperator,
    TellOutsideTreating,
    TellRequester,
    Withdraw,
    WithdrawFrom,
)
from dispatch.requests.machine.waves import reached
from dispatch.requests.models import Request, Synthesis
from dispatch.requests.states import Phase, SynthesisStatus


class Batch:
    """Reads and writes shared by the requests a tick advances together.

    The community's eligible physicians are read once, the offers already made in one query, and the
    new offers and their pushes are written in two statements for the whole batch (flush()).
    """

    def __init__(self, requests: list[Request], *, now: datetime) -> None:
        self.now = now
        self._offered = offer_store.offered_to([request.id for request in requests])
        self._members: dict[tuple[int, str], list[int]] = {}
        self._places: dict[tuple[int, str], dict[int, tuple[float, float]]] = {}
        self.offers: list[tuple[Request, list[int], Phase, offer_store.Distances]] = []
        self.pushes: list[dict[str, object]] = []

    def eligible(self, request: Request) -> list[int]:
        """Return what offer_store.eligible_members(request) would, from the batch's reads."""
        key = (request.community_id, request.profession)
        members = self._members.get(key)
        if members is None:
            members = offer_store.community_members(request.community_id, profession=request.profession, now=self.now)
            self._members[key] = members
        offered = self._offered[request.id]
        return [physician_id for physician_id in members if physician_id not in offered]

    def places(self, request: Request) -> dict[int, tuple[float, float]]:
        """Return what offer_store.member_places would for the request's community and profession, read once."""
        key = (request.community_id, request.profession)
        if key not in self._places:
            self._places[key] = offer_store.member_places(request.community_id, profession=request.profession)
        return self._places[key]

    def flush(self) -> None:
        """Write the batch's offers and pushes."""
        offer_store.add(self.offers, now=self.now)
        enqueue_many(self.pushes, now=self.now)
        self.offers, self.pushes = [], []


class Stale(Exception):
    """The physician's offer was answered or withdrawn since the decision was taken: take it again."""


def carry_out(request: Request, effects: tuple[Effect, ...], *, now: datetime, batch: Batch | None = None) -> None:
    """Carry out each effect of a decision on `request` (offers with the batch's, when given)."""
    for effect in effects:
        CARRY_OUT[type(effect)](request, effect, now, batch)


def _offer(
    request: Request,
    physician_ids: list[int],
    *,
    phase: Phase,
    now: datetime,
    batch: Batch | None,
    distances: offer_store.Distances | None = None,
) -> None:
    if not physician_ids:
        return
    pushes = messages.offer_pushes(request, physician_ids, phase=phase, distances=distances)
    if batch is not None:
        batch.offers.append((request, physician_ids, phase, distances or {}))
        batch.pushes += pushes
        return
    offer_store.add([(request, physician_ids, phase, distances or {})], now=now)
    enqueue_many(pushes, now=now)


def _offer_to(request: Request, effect: OfferTo, now: datetime, batch: Batch | None) -> None:
    if effect.audience == Audience.TREATING:
        if request.treating_physician_id is not None:
            _offer(request, [request.treating_physician_id], phase=Phase.EXCLUSIVE, now=now, batch=batch)
        return
    eligible = batch.eligible(request) if batch is not None else offer_store.eligible_members(request, now=now)
    patient = (
        (request.patient_lat, request.patient_lon) if request.patient_lat is not None and request.patient_lon is not None else None
    )
    if patient is None and effect.radius_km is None:
        _offer(request, eligible, phase=Phase.COMMUNITY, now=now, batch=batch)
        return
    places = (
        batch.places(request)
        if batch is not None
        else offer_store.member_places(request.community_id, profession=request.profession)
    )
    chosen, distances = reached(eligible, places=places, patient=patient, offer=effect)
    _offer(request, chosen, phase=Phase.COMMUNITY, now=now, batch=batch, distances=distances)


def _withdraw(request: Request, effect: Withdraw, now: datetime, batch: Batch | None) -> None:
    withdrawn = offer_store.withdraw(request, now=now, keep=effect.except_physician)
    enqueue_many(messages.withdrawal_pushes(request, withdrawn, reason=effect.reason), now=now)


def _withdraw_from(request: Request, effect: WithdrawFrom, now: datetime, batch: Batch | None) -> None:
    withdrawn = offer_store.withdraw(request, now=now, only=effect.physician_id)
    enqueue_many(messages.withdrawal_pushes(request, withdrawn, reason=effect.reason), now=now)


def _answer_offer(request: Request, effect: AnswerOffer, now: datetime, batch: Batch | None) -> None:
    """Write the physician's answer on their offer if it still has the status the decision read (and count it)."""
    written = offer_store.answer(
        request, physician_id=effect.physician_id, status=effect.status, previous=effect.previous, reason=effect.reason, now=now
    )
    if not written:
        # Answered or withdrawn since the snapshot (the same physician on two phones, a winner): decide again.
        raise Stale(f"offer of request {request.id} to physician {effect.physician_id} is no longer {effect.previous}")


def _reoffer(request: Request, effect: ReOffer, now: datetime, batch: Batch | None) -> None:
    again = offer_store.reopen(request, except_physician=effect.except_physician, now=now)
    if again:
        known = offer_store.distances([request.id], physician_ids=again)
        far = {pid: distance for (_rid, pid), distance in known.items()}
        enqueue_many(messages.offer_pushes(request, again, phase=Phase.COMMUNITY, distances=far), now=now)


def _sms_patient(request: Request, effect: SmsPatient, now: datetime, batch: Batch | None) -> None:
    messages.tell_patient(request, now=now)


def _tell_outside_treating(request: Request, effect: TellOutsideTreating, now: datetime, batch: Batch | None) -> None:
    messages.tell_outside_treating(request, now=now)


def _tell_operator(request: Request, effect: TellOperator, now: datetime, batch: Batch | None) -> None:
    messages.tell_operator(request, now=now, reason=effect.reason)


def _tell_requester(request: Request, effect: TellRequester, now: datetime, batch: Batch | None) -> None:
    messages.tell_requester(request, now=now)


def _sms_patient_released(request: Request, effect: SmsPatientReleased, now: datetime, batch: Batch | None) -> None:
    messages.tell_patient_released(request, now=now)


def _store_synthesis(request: Request, effect: StoreSynthesis, now: datetime, batch: Batch | None) -> None:
    """Keep the synthesis and, when someone must get it, queue it for their secure mailbox."""
    synthesis = Synthesis(
        request_id=request.id,
        physician_id=effect.physician_id,
        text=effect.text,
        written_at=now,
        to_address=effect.address,
        status=effect.status,
    )
    db.session.add(synthesis)
    if effect.status == SynthesisStatus.NOT_SENDABLE and request.treating_directory_id is not None:
        # No address yet for an outside GP: ask the national directory (again); its answer sends this synthesis.
        entry = db.session.get(DirectoryEntry, request.treating_directory_id)
        if entry is not None:
            directory.ask_directory(entry, now=now)
    if effect.status == SynthesisStatus.PENDING:
        db.session.flush()  # the synthesis's id names its message
        messages.send_synthesis(synthesis, now=now)


def _extend_links(request: Request, effect: ExtendLinks, now: datetime, batch: Batch | None) -> None:
    links.extend(request_id=request.id, until=effect.until)


CARRY_OUT: dict[type, Callable[[Request, Any, datetime, Batch | None], None]] = {
    OfferTo: _offer_to,
    Withdraw: _withdraw,
    AnswerOffer: _answer_offer,
    SmsPatient: _sms_patient,
    TellOutsideTreating: _tell_outside_treating,
    TellOperator: _tell_operator,
    StoreSynthesis: _store_synthesis,
    ReOffer: _reoffer,
    SmsPatientReleased: _sms_patient_released,
    WithdrawFrom: _withdraw_from,
    ExtendLinks: _extend_links,
    TellRequester: _tell_requester,
}
