"""How much of a request a user is shown, as the policy says: the full view only with its line in the access trail.

The patient's identity leaves this module only through `show`, `show_many`, `answering`, `reveal` (a document) and
`hand_over` (a data subject's own requests, with the reference of their request), which record the read, and
`as_opened` (what its author has just typed in, not a read); `anonymised` gives the rest. An erased request shows
`"patient": null` and when it was erased, whoever reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from dispatch import policy, texts
from dispatch.audit.service import note_access, record_access, record_accesses
from dispatch.auth.models import User
from dispatch.communities.models import Physician, Requester
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.policy import Action, View
from dispatch.professions import PHYSICIAN
from dispatch.requests.models import Offer

if TYPE_CHECKING:
    from dispatch.audit.models import AccessRecord

_OFFERED = select(Offer.id).where(Offer.request_id == bindparam("request_id"), Offer.physician_id == bindparam("physician_id"))


def _offered(user: User, request: Any) -> Callable[[], bool]:
    """Return how to find out whether the request was offered to the user (one indexed read, only if asked)."""

    def lookup() -> bool:
        physician = user.physician
        return (
            physician is not None
            and db.session.scalar(_OFFERED, {"request_id": request.id, "physician_id": physician.id}) is not None
        )

    return lookup


def standing(user: User, request: Any, *, offered: bool | None = None) -> frozenset[policy.Standing]:
    """Return what the user is to the request; `offered`, when the caller already knows it, spares a read."""
    return policy.standing(user, request, offered=_offered(user, request) if offered is None else offered)


def require(user: User, action: Action, request: Any, *, offered: bool | None = None) -> frozenset[policy.Standing]:
    """Return what the user is to the request if the policy lets them do `action`; else answer 403 or 404."""
    return policy.require(user, action, request, offered=_offered(user, request) if offered is None else offered)


def anonymised(request: Any, *, now: datetime, zone: str | None = None, distance_km: float | None = None) -> dict[str, Any]:
    """Return a request as shown to whoever may not know who the patient is (nothing is recorded), with how far the
    patient is from them when known."""
    return _present(request, full=False, now=now, zone=zone, distance_km=distance_km)


def show(
    user: User,
    request: Any,
    *,
    what: str,
    now: datetime,
    client: str | None,
    zone: str | None = None,
    action: Action = Action.READ,
    distance_km: float | None = None,
) -> dict[str, Any]:
    """Return the request as `user` may see it for `action`; a full view is recorded in the trail, and committed."""
    if policy.view_of(require(user, action, request)) is not View.FULL:
        return _present(request, full=False, now=now, zone=zone, distance_km=distance_km)
    shown = _present(request, full=True, now=now, zone=zone, distance_km=distance_km)
    record_access(request.id, user=user, what=what, client=client, now=now)
    return shown


def show_many(
    user: User,
    requests: Iterable[Any],
    *,
    what: str,
    now: datetime,
    client: str | None,
    offered: bool | None = None,
    zone: Callable[[Any], str | None] = lambda r: None,
    extra: Callable[[Any], dict[str, Any]] = lambda r: {},
) -> list[dict[str, Any]]:
    """Return each request as `user` may see it (those they may not see left out); full views recorded in one insert."""
    shown: list[dict[str, Any]] = []
    for request in requests:
        view = policy.view_of(standing(user, request, offered=offered))
        if view is not None:
            shown.append(_present(request, full=view is View.FULL, now=now, zone=zone(request)) | extra(request))
    record_accesses([item["id"] for item in shown if not item["anonymised"]], user=user, what=what, client=client, now=now)
    return shown


def reveal(user: User, request: Any, *, action: Action, what: str, now: datetime, client: str | None) -> None:
    """Record that `user` is shown the patient's identity for `action` (a document); 404 unless the view is full."""
    if policy.view_of(require(user, action, request)) is not View.FULL:
        raise Problem(404, "not_found", "Demande introuvable.")
    record_access(request.id, user=user, what=what, client=client, now=now)


def hand_over(
    user: User,
    requests: Iterable[Any],
    *,
    action: Action,
    community_id: int,
    what: str,
    reference: str | None,
    now: datetime,
    client: str | None,
) -> list[dict[str, Any]]:
    """Return a data subject's requests in full for their request (access, rectification), each read recorded with it."""
    policy.require(user, action, community_id=community_id)
    shown = [_present(request, full=True, now=now) for request in requests if request.community_id == community_id]
    for item in shown:
        note_access(item["id"], user=user, what=what, client=client, now=now).reference = reference
    db.session.commit()
    return shown


def note_subject_request(
    user: User, request_ids: Iterable[int], *, what: str, reference: str | None, now: datetime, client: str | None
) -> None:
    """Add to the caller's transaction the trail line of a data subject's request on each of these requests."""
    for request_id in request_ids:
        note_access(request_id, user=user, what=what, client=client, now=now).reference = reference


def as_opened(user: User, request: Any, *, now: datetime) -> dict[str, Any]:
    """Return a request to the user who has just opened it: what they typed in, not a read (nothing recorded)."""
    if request.opened_by_id != user.id:
        raise Problem(403, "forbidden", "Votre rôle ne permet pas cette action.")
    return _present(request, full=True, now=now)


@contextmanager
def answering(
    user: User, request_id: int, *, what: str, now: datetime, client: str | None
) -> Iterator[Callable[[Any], dict[str, Any]]]:
    """Note the read in the transaction the use case commits, then yield what shows the request afterwards.

    For an answer that shows the patient to who has just become entitled (the winner of an acceptance): the read
    is recorded with the use case's own commit, or not at all if it fails.
    """
    noted: list[AccessRecord] = [note_access(request_id, user=user, what=what, client=client, now=now)]

    def forget() -> None:
        if noted[0] in db.session.new:
            db.session.expunge(noted[0])

    def shown(request: Any) -> dict[str, Any]:
        if policy.view_of(standing(user, request)) is not View.FULL:
            forget()
            return _present(request, full=False, now=now)
        if noted[0] not in db.session:  # a race rolled it back, yet the user holds the request: record again
            noted[0] = note_access(request_id, user=user, what=what, client=client, now=now)
        db.session.commit()  # a use case that had nothing to write commits the read alone
        return _present(request, full=True, now=now)

    try:
        yield shown
    except BaseException:
        forget()
        raise


def age(birth: date | None, at: datetime, tz: str) -> int | None:
    """Return the age in whole years at `at` in the community's time zone."""
    if birth is None:
        return None
    today = at.astimezone(ZoneInfo(tz)).date()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _accepted_by(physician_id: int) -> dict[str, Any] | None:
    """Return who accepted (from the session when it holds them: the winner reading their own answer)."""
    physician = db.session.get(Physician, physician_id)
    return None if physician is None else {"physician_id": physician.id, "name": physician.user.name, "kind": physician.kind}


def _requester(requester_id: int | None) -> dict[str, Any] | None:
    """Return who opened a requester's request: their name and profession, RPPS or FINESS (no patient in it)."""
    requester = db.session.get(Requester, requester_id) if requester_id else None
    if requester is None:
        return None
    return {"name": requester.user.name, "profession": requester.profession, "rpps": requester.rpps, "finess": requester.finess}


def observations(stored: str | None) -> dict[str, Any] | None:
    """Return the observations kept on a request (encrypted JSON), or None."""
    if not stored:
        return None
    value = json.loads(stored)
    return value if isinstance(value, dict) else None


def _present(
    request: Any, *, full: bool, now: datetime, zone: str | None = None, distance_km: float | None = None
) -> dict[str, Any]:
    """Return a request (or a row of queries.PRESENTED_COLUMNS, with its community's `zone`, and the physician's
    `distance_km` when the row has it) as the API shows it.

    Anonymised leaves out who the patient and their GP are: where the patient is reads as a distance band and a
    commune ("≈ 4 km — Ormesson-sur-Marne"), never the street.
    """
    accepted = _accepted_by(request.accepted_by_id) if request.accepted_by_id else None
    erased_at = getattr(request, "erased_at", None)
    commune = getattr(request, "patient_commune", None)
    distance = distance_km if distance_km is not None else getattr(request, "distance_km", None)
    patient: dict[str, Any] = {
        "age": age(request.patient_birth_date, now, zone or request.community.timezone),
        "sex": request.patient_sex,
        "postcode": request.patient_postcode,
        "city": request.patient_city,
        "commune": commune,
    }
    treating: dict[str, Any] = {"status": request.treating_status, "registered": request.treating_physician_id is not None}
    if full:
        patient.update(
            first_name=request.patient_first_name,
            last_name=request.patient_last_name,
            birth_date=request.patient_birth_date,
            phone=request.patient_phone,
            address=getattr(request, "patient_address", None),
        )
        treating.update(rpps=request.treating_rpps, name=request.treating_name)
    profession = request.profession
    return {
        "id": request.id,
        "community_id": request.community_id,
        "profession": profession,
        "acts": request.acts,
        # What the professional's phone page calls it, in their profession's words.
        "title": texts.request_title(profession=profession, motive=request.motive, acts=request.acts),
        "state": request.state,
        "source": request.source,
        "motive": request.motive,
        "description": request.description,
        "opened_at": request.opened_at,
        "exclusive_until": request.exclusive_until,
        "expires_at": request.expires_at,
        "patient": None if erased_at is not None else patient,
        "where": None if erased_at is not None else texts.where(distance_km=distance, commune=commune or request.patient_city),
        "distance_km": None if distance is None else int(distance + 0.5),
        "treating_physician": treating,
        "usual_professional": None if profession == PHYSICIAN else treating,
        "accepted_by": accepted,
        "accepted_at": request.accepted_at,
        "appointment_at": request.appointment_at,
        "place": request.place,
        "outcome": request.outcome,
        "synthesis_status": request.synthesis_status,
        "relaunch_of": request.relaunch_of_id,
        "callback": {"result": request.callback_result, "at": request.callback_at} if request.callback_result else None,
        "anonymised": not full,
        "erased_at": erased_at,
        "modality": request.modality,
        # The link to the video names no patient, but it is theirs to join: those who see the patient see it.
        "teleconsultation_url": request.teleconsultation_url if full else None,
        "observations": observations(request.observations) if full and erased_at is None else None,
        "sas_regulator": {"rpps": request.sas_regulator_rpps, "name": request.sas_regulator_name}
        if request.sas_regulator_rpps
        else None,
        "requester": _requester(request.requester_id),
        "consent_at": request.consent_at,
    }


# What an event may carry of the treating GP's identity (their secure mail address, a delivery error quoting it,
# a changed address before and after).
_EVENT_IDENTITY = frozenset({"to", "error", "before", "after"})


def event_data(data: dict[str, Any] | None, held: frozenset[policy.Standing]) -> dict[str, Any]:
    """Return an event's data as those standings may see it: without the treating GP's address unless the view is full."""
    data = dict(data or {})
    if policy.view_of(held) is View.FULL:
        return data
    return {key: value for key, value in data.items() if key not in _EVENT_IDENTITY}


def allows(user: User, action: Action, request: Any) -> bool:
    """Tell whether the policy lets the user do `action` to the request."""
    return policy.allows(user, action, request, offered=_offered(user, request))
