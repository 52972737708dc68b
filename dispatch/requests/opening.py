"""Opening a request: the use case that the JSON API and the operator's console share, from validated input (RequestIn).

It checks the policy, answers a replayed idempotency key with the request it opened, names the treating GP (member or
directory entry), asks the machine how the request starts and commits; the view it returns is what the operator has
just typed in (not a read of the access trail).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dispatch import policy
from dispatch.auth.models import User
from dispatch.communities import directory, rules
from dispatch.communities import service as communities
from dispatch.communities.models import Community, Physician, Requester
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.events import Actor, record_event
from dispatch.geo import service as geo
from dispatch.policy import Action
from dispatch.professions import PHYSICIAN
from dispatch.requests import disclosure, machine, offer_store, placing
from dispatch.requests.decisions import Plan
from dispatch.requests.engine import actor, waves_of, write
from dispatch.requests.models import REQUESTER_SOURCES, Request
from dispatch.requests.states import EventType


class Invalid(Exception):
    """The input is valid alone but not in this community (e.g. a secure address outside MSSanté); `errors` by field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid")
        self.errors = errors


@dataclass(frozen=True)
class Opened:
    """A request just opened (or found again by its idempotency key), as shown to the operator, and what they must be
    told about it (e.g. a treating GP's changed address)."""

    shown: dict[str, Any]
    warnings: tuple[dict[str, Any], ...] = ()
    replayed: bool = False

    @property
    def id(self) -> int:
        return int(self.shown["id"])


def open_request(
    *, user: User, community_id: int, args: dict[str, Any], idempotency_key: str | None, now: datetime, client: str | None
) -> Opened:
    """Open a request in a community (once per idempotency key): the treating GP alone first, then the community."""
    community = db.session.get(Community, community_id)
    action = policy.opening_action(user)  # a requester's, for a patient in front of them, or a console's
    policy.require(user, action, community_id=community.id if community else None)
    assert community is not None  # an unknown community is refused above (422)
    if action is Action.REQUEST:
        args = args | _requested(user, args, now=now)
    existing = find_existing(opened_by_id=user.id, key=idempotency_key)
    if existing is not None:  # the answer of a replay shows the patient again: a read like any other
        return Opened(disclosure.show(user, existing, what="request", now=now, client=client), replayed=True)
    try:
        request, warnings = _open_from_input(
            community=community, args=args, opened_by=user, now=now, actor=actor(user, client), idempotency_key=idempotency_key
        )
    except Invalid as exc:
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors=exc.errors) from None
    # The operator has just typed the patient in: opening is not a read (the trail would only echo them).
    return Opened(disclosure.as_opened(user, request, now=now), warnings)


CONSENT_REQUIRED = "Le consentement du patient est obligatoire pour ouvrir une demande."


def _requested(user: User, args: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """Check what a requester's request needs (the patient's consent, a source of theirs); return who and when."""
    if args.get("consent") is not True:
        raise Problem(422, "consent_required", CONSENT_REQUIRED, errors={"consent": [CONSENT_REQUIRED]})
    if args["source"] not in REQUESTER_SOURCES:
        message = "Un demandeur ouvre une demande de source nurse, pharmacy ou ehpad."
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors={"source": [message]})
    requester = db.session.scalar(select(Requester).where(Requester.user_id == user.id))
    if requester is None:
        raise Problem(403, "forbidden", "Ce compte n'est pas celui d'un demandeur.")
    return {"requester_id": requester.id, "consent_at": now}


def find_existing(*, opened_by_id: int, key: str | None) -> Request | None:
    """Return the request this user already opened with this idempotency key, if any."""
    if key is None:
        return None
    return db.session.scalar(select(Request).where(Request.opened_by_id == opened_by_id, Request.idempotency_key == key))


def _open_from_input(
    *,
    community: Community,
    args: dict[str, Any],
    opened_by: User,
    now: datetime,
    actor: Actor,
    idempotency_key: str | None = None,
) -> tuple[Request, tuple[dict[str, Any], ...]]:
    """Name the treating GP (member or directory entry) and open the request, once per idempotency key."""
    patient, treating_in = args["patient"], args["treating_physician"]  # the usual professional, for other professions
    profession = args.get("profession", PHYSICIAN)
    declared = treating_in["status"] == "declared"
    treating = (
        communities.find_treating(community_id=community.id, rpps=treating_in.get("rpps"), profession=profession)
        if declared
        else None
    )
    directory_id = None
    mssante = treating_in.get("mssante")
    notes: tuple[tuple[str, dict[str, Any]], ...] = ()
    if declared and treating is None:
        try:
            outside = communities.record_outside_treating(
                community=community, rpps=treating_in.get("rpps"), name=treating_in.get("name"), mssante=mssante, now=now
            )
        except ValueError as exc:
            db.session.rollback()
            raise Invalid({"treating_physician.mssante": [str(exc)]}) from None
        directory_id, mssante = outside.entry.id, outside.entry.mssante
        # No address, or one the national directory gave long ago: the worker asks the directory after commit.
        directory.ask_directory(outside.entry, now=now)
        if outside.changed:  # recorded (who, when, before, after) and shown to the operator on the request's trail
            notes = ((EventType.TREATING_ADDRESS_CHANGED, {"before": outside.previous_mssante, "after": mssante}),)
    fields = {
        "profession": profession,
        "acts": args.get("acts") or None,
        "source": args["source"],
        "motive": args["motive"],
        "description": args.get("description"),
        "patient_first_name": patient["first_name"],
        "patient_last_name": patient["last_name"],
        "patient_birth_date": patient.get("birth_date"),
        "patient_sex": patient.get("sex"),
        "patient_phone": patient.get("phone"),
        "patient_postcode": patient.get("postcode"),
        "patient_city": patient.get("city"),
        "patient_address": patient.get("address"),
        # Placed now by the local BAN (cheap, indexed); the online geocoder answers later (start() asks it).
        **placing.columns(geo.place_now(placing.typed(patient))),
        "treating_status": treating_in["status"],
        "treating_rpps": treating.rpps if treating else treating_in.get("rpps"),
        "treating_name": treating.user.name if treating else treating_in.get("name"),
        "treating_mssante": treating.mssante if treating else mssante,
        "requester_id": args.get("requester_id"),
        "consent_at": args.get("consent_at"),
        "observations": json.dumps(args["observations"]) if args.get("observations") else None,
        "modality": args.get("modality", "in_person"),
        "sas_regulator_rpps": (args.get("sas_regulator") or {}).get("rpps"),
        "sas_regulator_name": (args.get("sas_regulator") or {}).get("name"),
    }
    try:
        request = start(
            community=community,
            fields=fields,
            treating=treating,
            directory_id=directory_id,
            opened_by=opened_by,
            now=now,
            actor=actor,
            idempotency_key=idempotency_key,
            notes=notes,
        )
    except IntegrityError:
        db.session.rollback()  # the same key raced us: answer the request the other call opened
        existing = find_existing(opened_by_id=opened_by.id, key=idempotency_key)
        if existing is None:
            raise
        return existing, ()
    # The notes, recorded on the trail, are also what the operator is warned of now.
    warnings = tuple({"code": code, **data} for code, data in notes)
    if request.patient_lat is None and request.plan_waves and geo.geocoder() != geo.GEOPLATEFORME:
        warnings += ({"code": EventType.ADDRESS_NOT_LOCATED, "profession": profession},)
    return request, warnings


def treating_eligible(physician: Physician | None, community_id: int, *, now: datetime, profession: str = PHYSICIAN) -> bool:
    """Say whether a treating GP (a usual professional) gets the exclusive phase: a member of the request's profession,
    active, signed up (a password chosen), available and with room (machine.capacity)."""
    if physician is None or not physician.is_available(now) or physician.user.password_set_at is None:
        return False
    if physician.profession != profession:
        return False
    if not any(m.community_id == community_id and m.role == "physician" for m in physician.user.memberships):
        return False
    return offer_store.has_room(physician.id, now=now)  # a full floating slot: the community has it at once


def start(
    *,
    community: Community,
    fields: dict[str, Any],
    treating: Physician | None,
    directory_id: int | None,
    opened_by: User,
    now: datetime,
    actor: Actor,
    idempotency_key: str | None = None,
    notes: tuple[tuple[str, dict[str, Any]], ...] = (),
) -> Request:
    """Open a request with the machine's first decision (the treating GP alone, or the community), and commit.

    `notes` are events of the opening itself (type, data), written on the request's trail after the machine's own.
    """
    profession = fields.get("profession", PHYSICIAN)
    rule = rules.rule_for(community, profession)  # copied onto the request: a later edit never changes it
    plan = Plan(exclusive_s=rule.exclusive_s, response_s=rule.response_s, waves=waves_of(list(rule.waves)))
    eligible = treating_eligible(treating, community.id, now=now, profession=profession)
    placed = fields.get("patient_lat") is not None and fields.get("patient_lon") is not None
    decision = machine.open_request(now=now, plan=plan, treating_eligible=eligible, placed=placed)
    request = Request(
        community=community,
        community_id=community.id,
        opened_by_id=opened_by.id,
        idempotency_key=idempotency_key,
        treating_physician_id=treating.id if treating else None,
        treating_directory_id=directory_id,
        plan_exclusive_s=plan.exclusive_s,
        plan_response_s=plan.response_s,
        plan_waves=[wave.as_data() for wave in plan.waves] or None,
        **fields,
    )
    db.session.add(request)
    write(request, decision, now=now, actor=actor)
    for type_, data in notes:
        record_event(request.id, type=type_, at=now, actor=actor, data=data)
    if not placed:
        _place_later(request, plan=plan, now=now, actor=actor)
    db.session.commit()
    return request


def _place_later(request: Request, *, plan: Plan, now: datetime, actor: Actor) -> None:
    """Ask the online geocoder where an unplaced patient is; or, the answer being final, tell the operator when the
    waves cannot apply (everyone of the profession gets the request after the exclusive phase)."""
    address = placing.typed(
        {"address": request.patient_address, "postcode": request.patient_postcode, "city": request.patient_city}
    )
    if geo.ask_later(address, kind=geo.PATIENT_KIND, now=now, request_id=request.id):
        return
    if plan.waves:
        placing.not_located(request, now=now, actor=actor)
