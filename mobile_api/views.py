"""The physicians' endpoints, used from the phone app and the physician page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import marshmallow as ma
from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import bindparam, delete, select

from dispatch.audit.service import note_access, record_access, record_accesses
from dispatch.communities import service as communities
from dispatch.communities.models import Community, Device
from dispatch.db import UTCDateTime as UTCDateTimeColumn
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.escalation import machine, service
from dispatch.escalation.machine import OPEN_STATES, Refusal, Snapshot
from dispatch.escalation.models import Offer, Request
from dispatch.requests.access import load_request, view_level
from dispatch.requests.schemas import PRESENTED_COLUMNS, RequestOut, present, request_json
from dispatch.requests.views import actor, rejected
from dispatch.schemas import PageArgs, UTCDateTime, text, with_next_link
from dispatch.web import answers_from_memory, client_label, current_physician, member_role, now, runtime

bp = Blueprint("mobile", __name__, url_prefix="/api/v1", description="Application des médecins")


class DeviceIn(ma.Schema):
    platform = fields.String(required=True, validate=validate.OneOf(("android", "ios", "web")))
    token = fields.String(required=True, validate=validate.Length(min=8, max=4096))


class DeviceOut(ma.Schema):
    id = fields.Integer()


class AvailabilityIn(ma.Schema):
    available = fields.Boolean(required=True, truthy={True}, falsy={False})
    until = UTCDateTime()


class AvailabilityOut(ma.Schema):
    available = fields.Boolean()
    until = UTCDateTime(allow_none=True)


class AcceptIn(ma.Schema):
    appointment_at = UTCDateTime(required=True)
    place = text(300)


class RefuseIn(ma.Schema):
    reason = text(500)


class OutcomeIn(ma.Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(("seen", "no_show")))
    synthesis = text(10000)

    @ma.validates_schema
    def synthesis_when_seen(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("outcome") == "seen" and not data.get("synthesis"):
            raise ma.ValidationError({"synthesis": ["La synthèse est obligatoire quand le patient a été vu."]})


@bp.route("/me/devices", methods=["POST"])
@bp.arguments(DeviceIn)
@bp.response(201, DeviceOut)
@bp.alt_response(200, schema=DeviceOut, description="Appareil déjà enregistré")
def add_device(args: dict[str, Any]) -> Any:
    """Register this phone for push notifications."""
    physician = current_physician()
    device, created = communities.register_device(physician=physician, platform=args["platform"],
                                                  token=args["token"], now=now())
    return jsonify({"id": device.id}), 201 if created else 200


@bp.route("/me/devices/<int:device_id>", methods=["DELETE"])
@bp.response(204)
def remove_device(device_id: int) -> None:
    """Stop pushes to this phone."""
    physician = current_physician()
    result = db.session.execute(delete(Device).where(Device.id == device_id, Device.physician_id == physician.id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise Problem(404, "not_found", "Appareil introuvable.")
    db.session.commit()


@bp.route("/me/availability", methods=["PUT"])
@bp.arguments(AvailabilityIn)
@bp.response(200, AvailabilityOut)
def availability(args: dict[str, Any]) -> dict[str, Any]:
    """Say whether I take requests, for good or until a time."""
    physician = current_physician()
    until = args.get("until")
    at = now()
    if until is not None and not at < until <= at + timedelta(days=60):
        raise Problem(422, "invalid", "Certains champs sont invalides.",
                      errors={"until": ["L'échéance doit être dans le futur (60 jours au plus)."]})
    communities.set_availability(physician=physician, available=args["available"], until=until)
    return {"available": physician.available, "until": physician.available_until}


# Built once: a physician's phone asks for its offers more than anything else.
_OFFERS = (select(*PRESENTED_COLUMNS, Community.timezone).select_from(Request)
           .join(Offer, Offer.request_id == Request.id).join(Community, Community.id == Request.community_id)
           .where(Offer.physician_id == bindparam("physician_id"), Offer.status.in_(("notified", "refused")),
                  Request.state.in_(OPEN_STATES), Request.expires_at > bindparam("now", type_=UTCDateTimeColumn()))
           .order_by(Request.id.desc()).limit(bindparam("limit")))
_OFFERS_BEFORE = _OFFERS.where(Request.id < bindparam("before"))


@bp.route("/me/offers", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, RequestOut(many=True))
def offers(args: dict[str, Any]) -> Any:
    """List the requests open and offered to me now, newest first."""
    physician = current_physician()
    at = now()
    query = _OFFERS_BEFORE if "before" in args else _OFFERS
    found = db.session.execute(query, {"physician_id": physician.id, "now": at, "limit": args["limit"],
                                       "before": args.get("before")})
    items = [present(row, full=row.treating_physician_id == physician.id, now=at, zone=row.timezone)
             for row in found]
    response = with_next_link(jsonify([request_json(item) for item in items]), items, args["limit"])
    record_accesses([item["id"] for item in items if not item["anonymised"]], user=physician.user, what="offers",
                    client=client_label(), now=at)
    return response


def _offered_request(request_id: int) -> tuple[Any, Request]:
    """Return the request if this physician may know of it: offered to them, or of their community."""
    physician = current_physician()
    request = load_request(request_id)
    if view_level(physician.user, request) is None and member_role(physician.user, request.community_id) is None:
        raise Problem(404, "not_found", "Demande introuvable.")
    return physician, request


_ACCEPT_SEEN = (select(Request.state, Request.exclusive_until, Request.expires_at, Request.treating_physician_id,
                       Request.accepted_by_id, Request.community_id,
                       select(Offer.id).where(Offer.request_id == Request.id,
                                              Offer.physician_id == bindparam("physician_id"))
                       .exists().label("offered"))
                .where(Request.id == bindparam("request_id")))


@bp.route("/requests/<int:request_id>/accept", methods=["POST"])
@bp.arguments(AcceptIn)
@bp.response(200, RequestOut)
@bp.alt_response(409, description="Déjà acceptée (already_accepted) ou close (closed)")
@answers_from_memory
def accept(args: dict[str, Any], request_id: int) -> Any:
    """Take the patient: the first acceptance wins."""
    physician = current_physician()
    at = now()
    # When many physicians accept at once, all but one lose: the losers are answered from one light read.
    seen = db.session.execute(_ACCEPT_SEEN, {"request_id": request_id, "physician_id": physician.id}).first()
    if seen is None or not (seen.offered or physician.id in (seen.treating_physician_id, seen.accepted_by_id)
                            or member_role(physician.user, seen.community_id) is not None):
        raise Problem(404, "not_found", "Demande introuvable.")
    appointment_at = args["appointment_at"]
    if not at - timedelta(minutes=30) <= appointment_at <= at + timedelta(hours=24):
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors={
            "appointment_at": ["Le rendez-vous doit être fixé dans les 24 heures à venir."]})
    if seen.accepted_by_id != physician.id:
        verdict = machine.accept(Snapshot(state=seen.state, exclusive_until=seen.exclusive_until,
                                          expires_at=seen.expires_at, treating_physician_id=seen.treating_physician_id,
                                          accepted_by_id=seen.accepted_by_id),
                                 physician_id=physician.id, now=at, treating_registered=True)
        if isinstance(verdict, Refusal):
            raise rejected(service.Rejected(verdict))
    request = load_request(request_id)
    # The winner is shown the patient: the read is recorded with the acceptance, or not at all.
    read = note_access(request_id, user=physician.user, what="accept", client=client_label(), now=at)
    try:
        request = service.accept(request=request, physician=physician, appointment_at=appointment_at,
                                 place=args.get("place"), now=at, actor=actor(physician.user))
    except service.Rejected as exc:
        raise rejected(exc) from None
    if read not in db.session:  # a race rolled it back, yet this physician holds the request: record again
        note_access(request_id, user=physician.user, what="accept", client=client_label(), now=at)
    db.session.commit()  # an acceptance repeated by its winner commits nothing but the read
    runtime().wake()
    return jsonify(request_json(present(request, full=True, now=at)))


@bp.route("/requests/<int:request_id>/refuse", methods=["POST"])
@bp.arguments(RefuseIn)
@bp.response(200, RequestOut)
@answers_from_memory
def refuse(args: dict[str, Any], request_id: int) -> Any:
    """Decline the request; the treating GP's refusal opens it to the community at once."""
    physician, request = _offered_request(request_id)
    at = now()
    try:
        request = service.refuse(request=request, physician=physician, reason=args.get("reason"), now=at,
                                 actor=actor(physician.user))
    except service.Rejected as exc:
        raise rejected(exc) from None
    runtime().wake()
    shown = present(request, full=view_level(physician.user, request) == "full", now=at)
    if not shown["anonymised"]:
        record_access(request_id, user=physician.user, what="refuse", client=client_label(), now=at)
    return jsonify(request_json(shown))


@bp.route("/requests/<int:request_id>/outcome", methods=["POST"])
@bp.arguments(OutcomeIn)
@bp.response(200, RequestOut)
@answers_from_memory
def outcome(args: dict[str, Any], request_id: int) -> Any:
    """Record whether the patient came, with the synthesis for their treating GP."""
    physician, request = _offered_request(request_id)
    if request.accepted_by_id != physician.id:
        raise Problem(403, "not_eligible", "Seul le médecin qui a accepté la demande peut en donner l'issue.")
    at = now()
    try:
        request = service.record_outcome(request=request, physician=physician, outcome=args["outcome"],
                                         synthesis=args.get("synthesis"), now=at, actor=actor(physician.user))
    except service.Rejected as exc:
        raise rejected(exc) from None
    runtime().wake()
    shown = present(request, full=True, now=at)
    record_access(request_id, user=physician.user, what="outcome", client=client_label(), now=at)
    return jsonify(request_json(shown))
