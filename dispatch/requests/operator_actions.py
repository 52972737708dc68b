"""The operator's use cases on a request once it is open: cancel it, record the call-back, relaunch it.

One function per action, called alike by the JSON API and the console's pages: each owns the permission, the
machine's decision, the commit and the access-trail line of the view it returns.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.events import record_event
from dispatch.policy import Action
from dispatch.requests import disclosure, machine
from dispatch.requests.decisions import Refusal
from dispatch.requests.engine import Rejected, actor, decide_and_write, load_request, snapshot
from dispatch.requests.models import Request
from dispatch.requests.opening import start
from dispatch.requests.states import CallbackResult, EventType, State

if TYPE_CHECKING:
    from dispatch.auth.models import User

Shown = dict[str, Any]  # a request as its user may see it (disclosure's presentation)


def cancel_request(*, user: User, request_id: int, reason: str, now: datetime, client: str | None) -> Shown:
    """Cancel an open request and clear it from every phone it was offered to."""
    request = load_request(request_id)
    disclosure.require(user, Action.CANCEL, request)
    request = decide_and_write(
        request, lambda shot: machine.cancel(shot, now=now, reason=reason), now=now, actor=actor(user, client)
    )
    return disclosure.show(user, request, what="cancel", now=now, client=client)


def call_back(*, user: User, request_id: int, result: str, note: str | None, now: datetime, client: str | None) -> Shown:
    """Record the result of calling back an expired request's patient: every console drops its banner."""
    request = load_request(request_id)
    disclosure.require(user, Action.CALLBACK, request)
    request = _call_back(request, user=user, result=result, note=note, now=now, client=client)
    return disclosure.show(user, request, what="callback", now=now, client=client)


def _call_back(request: Request, *, user: User, result: str, note: str | None, now: datetime, client: str | None) -> Request:
    return decide_and_write(
        request,
        lambda shot: machine.call_back(shot, operator_id=user.id, result=result, note=note, now=now),
        now=now,
        actor=actor(user, client),
    )


# What a relaunch copies of the request it follows: the patient, the motive, the treating GP as named then.
RELAUNCH_COPIES = (
    "profession",
    "acts",
    "source",
    "modality",
    "observations",
    "requester_id",
    "consent_at",
    "sas_regulator_rpps",
    "sas_regulator_name",
    "motive",
    "description",
    "patient_first_name",
    "patient_last_name",
    "patient_birth_date",
    "patient_sex",
    "patient_phone",
    "patient_postcode",
    "patient_city",
    "patient_lat",
    "patient_lon",
    "patient_address",
    "patient_precision",
    "patient_commune",
    "treating_status",
    "treating_rpps",
    "treating_name",
    "treating_mssante",
)


def relaunch(*, user: User, request_id: int, now: datetime, client: str | None) -> Shown:
    """Open a new request for the same patient and motive, with fresh windows (the treating GP first if registered).

    An expired request not yet called back is recorded as called back with the result `relaunched`. The answer is
    the new request as its operator has just opened it.
    """
    request = load_request(request_id)
    disclosure.require(user, Action.RELAUNCH, request)
    refusal = machine.relaunchable(replace(snapshot(request), relaunched_as=relaunched_as(request_id)))
    if refusal is not None:
        raise _refused(refusal, request_id)
    treating = db.session.get(Physician, request.treating_physician_id) if request.treating_physician_id else None
    fields = {name: getattr(request, name) for name in RELAUNCH_COPIES} | {"relaunch_of_id": request.id}
    community = db.session.get(Community, request.community_id)
    assert community is not None
    who = actor(user, client)
    try:
        new = start(
            community=community,
            fields=fields,
            treating=treating,
            directory_id=request.treating_directory_id,
            opened_by=user,
            now=now,
            actor=who,
            notes=((EventType.RELAUNCH_OF, {"request_id": request_id}),),
        )
    except IntegrityError:
        # Another console relaunched it at the same instant: its relaunch stands (one per request, a unique key).
        db.session.rollback()
        raise _refused(Refusal.ALREADY_RELAUNCHED, request_id) from None
    original = load_request(request_id)
    record_event(original.id, type=EventType.RELAUNCHED, at=now, actor=who, data={"request_id": new.id})
    db.session.commit()
    if original.state == State.EXPIRED and original.callback_result is None:
        _call_back(original, user=user, result=CallbackResult.RELAUNCHED, note=None, now=now, client=client)
    return disclosure.as_opened(user, new, now=now)


def relaunched_as(request_id: int) -> int | None:
    """Return the request that relaunches this one, if any (there is one at most)."""
    return db.session.scalar(select(Request.id).where(Request.relaunch_of_id == request_id))


def _refused(refusal: Refusal, request_id: int) -> Rejected:
    """Return the refusal of a relaunch; an existing relaunch is named, for the console to follow it."""
    if refusal is Refusal.ALREADY_RELAUNCHED:
        return Rejected(refusal, extra={"relaunched_as": relaunched_as(request_id)})
    return Rejected(refusal)
