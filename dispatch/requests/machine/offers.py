"""The machine's decisions on a physician's answer to an offer: accept (the first wins, exactly once) or refuse."""

from __future__ import annotations

from datetime import datetime

from dispatch.requests.decisions import (
    AnswerOffer,
    Decision,
    Effect,
    EventSpec,
    Refusal,
    SmsPatient,
    Snapshot,
    TellOutsideTreating,
    TellRequester,
    Withdraw,
    closing,
    iso,
    opening_community,
    unchanged,
)
from dispatch.requests.machine.lifecycle import opening_offers
from dispatch.requests.machine.windows import appointment_refusal
from dispatch.requests.states import ANSWERABLE, OPEN_STATES, OfferStatus, Phase, State
from dispatch.requests.states import EventType as E


def refuse(snapshot: Snapshot, *, physician_id: int, now: datetime, reason: str | None = None) -> Decision | Refusal:
    """Decide what a physician's refusal does: the treating GP's opens the community at once."""
    if snapshot.state not in OPEN_STATES or now >= snapshot.expires_at:
        return Refusal.CLOSED
    treating_in_exclusive = snapshot.state == State.EXCLUSIVE and physician_id == snapshot.treating_physician_id
    if snapshot.state == State.EXCLUSIVE and not treating_in_exclusive:
        return Refusal.NOT_ELIGIBLE
    offer = snapshot.actor_offer
    if offer is not None and offer.status == OfferStatus.REFUSED:
        return unchanged(snapshot)  # refusing twice is harmless
    if offer is None or offer.status != OfferStatus.NOTIFIED:
        return Refusal.NOT_ELIGIBLE
    refused = EventSpec(E.REFUSED, {"physician_id": physician_id, "reason": reason, "phase": offer.phase})
    answer = AnswerOffer(physician_id, OfferStatus.REFUSED, reason, previous=offer.status)
    if treating_in_exclusive:
        offers, events, values = opening_offers(snapshot, now)
        return Decision(
            State.COMMUNITY,
            snapshot.exclusive_until,
            snapshot.expires_at,
            (refused, EventSpec(E.COMMUNITY_OPENED, {"after": "treating_refused"}), *events),
            (answer, *offers),
            {**opening_community(snapshot, now), **values},
        )
    return Decision(snapshot.state, snapshot.exclusive_until, snapshot.expires_at, (refused,), (answer,))


def accept(
    snapshot: Snapshot,
    *,
    physician_id: int,
    now: datetime,
    appointment_at: datetime,
    place: str | None,
    teleconsultation_url: str | None = None,
) -> Decision | Refusal:
    """Decide whether `physician_id` may take the request at `now`, and what follows.

    A teleconsultation's link (checked against the community's hosts by the use case) is kept only for a
    teleconsultation; the requester who opened the request is told.
    """
    if snapshot.accepted_by_id == physician_id:
        return unchanged(snapshot)  # accepting twice is harmless
    if snapshot.state not in OPEN_STATES:
        return Refusal.ALREADY_ACCEPTED if snapshot.accepted_by_id is not None else Refusal.CLOSED
    if now >= snapshot.expires_at:
        return Refusal.CLOSED
    in_exclusive = snapshot.state == State.EXCLUSIVE and (snapshot.exclusive_until is None or now < snapshot.exclusive_until)
    if in_exclusive and physician_id != snapshot.treating_physician_id:
        return Refusal.NOT_ELIGIBLE
    offer = snapshot.actor_offer
    if offer is None or offer.status not in ANSWERABLE:
        return Refusal.NOT_ELIGIBLE  # never offered, or withdrawn by a winner who committed since
    late = appointment_refusal(appointment_at, now=now)
    if late is not None:
        return late
    phase = (
        Phase.EXCLUSIVE if physician_id == snapshot.treating_physician_id and snapshot.state == State.EXCLUSIVE else snapshot.state
    )
    effects: list[Effect] = [
        AnswerOffer(physician_id, OfferStatus.ACCEPTED, previous=offer.status),
        Withdraw(State.ACCEPTED, except_physician=physician_id),
    ]
    if snapshot.patient_reachable:
        effects.append(SmsPatient())
    if not snapshot.treating_registered and snapshot.outside_treating_reachable:
        effects.append(TellOutsideTreating())
    if snapshot.requested:
        effects.append(TellRequester())
    values = {
        "accepted_by_id": physician_id,
        "accepted_at": now,
        "accepted_phase": phase,
        "appointment_at": appointment_at,
        "place": place,
        **({"teleconsultation_url": teleconsultation_url} if snapshot.teleconsultation else {}),
        **closing(now),
    }
    data = {"physician_id": physician_id, "phase": phase, "appointment_at": iso(appointment_at), "place": place}
    if snapshot.teleconsultation:
        data["teleconsultation"] = True
    event = EventSpec(E.ACCEPTED, data)
    return Decision(State.ACCEPTED, snapshot.exclusive_until, snapshot.expires_at, (event,), tuple(effects), values)
