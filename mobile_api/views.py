"""The physicians' endpoints, used from the phone app and the physician page."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import marshmallow as ma
from flask import current_app, jsonify
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import delete, select

from dispatch.communities import service as communities
from dispatch.communities.models import MAX_CAPACITY, Device
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.notify.webpush import validate_subscription
from dispatch.policy import acting_physician
from dispatch.requests import capacity, physician_actions, queries
from dispatch.requests.disclosure import show_many
from dispatch.requests.schemas import AcceptIn, OutcomeIn, RefuseIn, ReleaseIn, RequestOut, request_json
from dispatch.schemas import Id, Integer, PageArgs, Schema, UTCDateTime, with_next_link
from dispatch.web import answers_from_memory, autocommit_read, client_label, current_user, now

if TYPE_CHECKING:
    from dispatch.communities.models import Physician

bp = Blueprint("mobile", __name__, url_prefix="/api/v1", description="Application des médecins")


def current_physician() -> Physician:
    """Return the physician record of the signed-in user, or answer 403."""
    return acting_physician(current_user())


class SubscriptionKeysIn(Schema):
    p256dh = fields.String(required=True, validate=validate.Length(min=1, max=200))
    auth = fields.String(required=True, validate=validate.Length(min=1, max=100))


class SubscriptionIn(Schema):
    """A browser's `PushSubscription.toJSON()`."""

    endpoint = fields.String(required=True, validate=validate.Length(min=8, max=2048))
    expirationTime = Integer(allow_none=True, strict=True, minimum=0)  # noqa: N815 -- the browser's name
    keys = fields.Nested(SubscriptionKeysIn, required=True)


class DeviceIn(Schema):
    """An app's FCM token (android, ios, web), or an installed web app's Web Push subscription (webpush)."""

    platform = fields.String(required=True, validate=validate.OneOf(("android", "ios", "web", "webpush")))
    token = fields.String(validate=validate.Length(min=8, max=4096))
    subscription = fields.Nested(SubscriptionIn)

    @ma.validates_schema
    def token_or_subscription(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("platform") == "webpush":
            if "subscription" not in data:
                raise ma.ValidationError({"subscription": ["Champ obligatoire pour un appareil webpush."]})
            if "token" in data:
                raise ma.ValidationError({"token": ["Un appareil webpush s'enregistre par son abonnement."]})
        elif data.get("platform"):
            if "token" not in data:
                raise ma.ValidationError({"token": ["Champ obligatoire."]})
            if "subscription" in data:
                raise ma.ValidationError({"subscription": ["Réservé aux appareils webpush."]})


class DeviceOut(Schema):
    id = Id()


class DeviceListOut(Schema):
    id = Id()
    platform = fields.String()
    created_at = UTCDateTime()
    last_success_at = UTCDateTime(allow_none=True)


class WebPushKeyOut(Schema):
    public_key = fields.String(metadata={"description": "Clé VAPID du serveur (point P-256 non compressé, base64url)"})


class AvailabilityIn(Schema):
    """The availability switch (for good or `until` a time), or a floating slot: `capacity` more requests `until`.

    With a `capacity` (1 to 20), `until` is the slot's end (required, ahead, within 24 hours) and the switch goes on;
    `"capacity": null` removes the slot. Without a capacity, `available` is required and `until` is the switch's.
    """

    available = fields.Boolean(truthy={True}, falsy={False})
    until = UTCDateTime()
    capacity = Integer(
        minimum=1,
        maximum=MAX_CAPACITY,
        strict=True,
        allow_none=True,
        metadata={"description": "Je peux en prendre encore N jusqu'à `until` ; null : plus de limite"},
    )

    @ma.validates_schema(pass_original=True)
    def capacity_needs_until(self, data: dict[str, Any], original: Any = None, **kwargs: Any) -> None:
        if isinstance(original, dict) and isinstance(original.get("capacity"), bool):  # JSON true is no number
            raise ma.ValidationError({"capacity": ["Nombre entier attendu."]})
        if data.get("capacity") is not None:
            if "until" not in data:
                raise ma.ValidationError({"until": ["Champ obligatoire avec une capacité (l'heure de fin)."]})
            if data.get("available") is False:
                raise ma.ValidationError({"available": ["Une capacité se déclare en étant disponible."]})
        elif "available" not in data and "capacity" not in data:
            raise ma.ValidationError({"available": ["Champ obligatoire."]})


class AvailabilityOut(Schema):
    available = fields.Boolean()
    until = UTCDateTime(allow_none=True, metadata={"description": "Fin de l'interrupteur de disponibilité"})
    capacity = Integer(minimum=1, maximum=MAX_CAPACITY, allow_none=True, metadata={"description": "Capacité déclarée"})
    capacity_until = UTCDateTime(allow_none=True, metadata={"description": "Fin de la capacité"})
    capacity_left = Integer(
        minimum=0, maximum=MAX_CAPACITY, allow_none=True, metadata={"description": "Demandes encore acceptables (0 : complet)"}
    )


@bp.route("/me/devices", methods=["POST"])
@bp.arguments(DeviceIn)
@bp.response(201, DeviceOut)
@bp.alt_response(200, schema=DeviceOut, description="Appareil déjà enregistré")
@bp.alt_response(409, description="Appareil déjà enregistré pour un autre médecin")
@bp.alt_response(422, description="Abonnement Web Push invalide, ou service de notification non autorisé")
def add_device(args: dict[str, Any]) -> Any:
    """Register this phone (FCM token) or this installed web app (Web Push subscription) for notifications.

    A Web Push subscription's endpoint must be https on a host of DISPATCH_WEBPUSH_HOSTS: the server never
    posts anywhere else.
    """
    physician = current_physician()
    token = args.get("token", "")
    if args["platform"] == "webpush":
        try:
            token = validate_subscription(args["subscription"], current_app.config["DISPATCH_WEBPUSH_HOSTS"])
        except ValueError as exc:
            raise Problem(422, "invalid", "Certains champs sont invalides.", errors={"subscription.endpoint": [str(exc)]}) from None
    try:
        device, created = communities.register_device(physician=physician, platform=args["platform"], token=token, now=now())
    except communities.Conflict as exc:
        raise Problem(409, exc.code, exc.detail) from None
    return jsonify({"id": device.id}), 201 if created else 200


@bp.route("/me/devices", methods=["GET"])
@bp.response(200, DeviceListOut(many=True))
def list_devices() -> Any:
    """List my devices registered for notifications, and when a push last reached each."""
    physician = current_physician()
    return list(db.session.scalars(select(Device).where(Device.physician_id == physician.id).order_by(Device.id)))


@bp.route("/webpush/key", methods=["GET"])
@bp.response(200, WebPushKeyOut)
@bp.doc(security=[])
def webpush_key() -> Any:
    """The VAPID application server key, for `pushManager.subscribe({applicationServerKey})`."""
    return {"public_key": current_app.extensions["dispatch"].ports.vapid_public_key}


@bp.route("/me/devices/<int:device_id>", methods=["DELETE"])
@bp.response(204)
def remove_device(device_id: int) -> None:
    """Stop pushes to this phone."""
    physician = current_physician()
    result = db.session.execute(delete(Device).where(Device.id == device_id, Device.physician_id == physician.id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise Problem(404, "not_found", "Appareil introuvable.")
    db.session.commit()


def _availability(physician: Physician, slot: capacity.Capacity) -> dict[str, Any]:
    return {
        "available": physician.available,
        "until": physician.available_until,
        "capacity": slot.capacity,
        "capacity_until": slot.until,
        "capacity_left": slot.left,
    }


@bp.route("/me/availability", methods=["GET"])
@bp.response(200, AvailabilityOut)
def get_availability() -> dict[str, Any]:
    """Say whether I take requests, and my floating slot: how many more, until when, how many are left."""
    physician = current_physician()
    return _availability(physician, capacity.capacity_of(physician=physician, now=now()))


@bp.route("/me/availability", methods=["PUT"])
@bp.arguments(AvailabilityIn)
@bp.response(200, AvailabilityOut)
@bp.alt_response(
    422,
    description="Capacité hors de 1 à 20 ou non entière, sans heure de fin, heure de fin passée ou à plus de 24 h "
    "(errors.capacity, errors.until)",
)
def availability(args: dict[str, Any]) -> dict[str, Any]:
    """Say whether I take requests, for good or until a time; or that I take N more until a time (a floating slot)."""
    physician = current_physician()
    until = args.get("until")
    at = now()
    if args.get("capacity") is not None:
        slot = capacity.declare_capacity(physician=physician, capacity=args["capacity"], until=args["until"], now=at)
        return _availability(physician, slot)
    if "capacity" in args:
        capacity.remove_capacity(physician=physician)
    if "available" in args:
        if until is not None and not at < until <= at + timedelta(days=60):
            raise Problem(
                422,
                "invalid",
                "Certains champs sont invalides.",
                errors={"until": ["L'échéance doit être dans le futur (60 jours au plus)."]},
            )
        communities.set_availability(physician=physician, available=args["available"], until=until)
    return _availability(physician, capacity.capacity_of(physician=physician, now=at))


@bp.route("/me/offers", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, RequestOut(many=True))
@autocommit_read
def offers(args: dict[str, Any]) -> Any:
    """List the requests open and offered to me now, newest first."""
    physician = current_physician()
    at = now()
    query = queries.OFFERS_BEFORE if "before" in args else queries.OFFERS
    found = db.session.execute(
        query, {"physician_id": physician.id, "now": at, "limit": args["limit"], "before": args.get("before")}
    )
    items = show_many(
        physician.user, found, what="offers", now=at, client=client_label(), offered=True, zone=lambda row: row.timezone
    )
    return with_next_link(jsonify([request_json(item) for item in items]), items, args["limit"])


@bp.route("/requests/<int:request_id>/accept", methods=["POST"])
@bp.arguments(AcceptIn)
@bp.response(200, RequestOut)
@bp.alt_response(409, description="Déjà acceptée (already_accepted) ou close (closed)")
@bp.alt_response(
    422,
    description="Champs invalides (invalid) : rendez-vous hors de la fenêtre (errors.appointment_at), lien de "
    "téléconsultation absent, hors des hôtes de la communauté ou donné pour une consultation en présentiel "
    "(errors.teleconsultation_url)",
)
@bp.doc(
    description="Le rendez-vous (`appointment_at`) se fixe de 10 minutes avant l'instant présent à 24 heures après "
    "(soins non programmés : le jour même, ou le lendemain matin pour une demande du soir) ; hors de cette fenêtre, "
    "422 `invalid` avec `errors.appointment_at`. La même règle s'applique à la page du médecin. Pour une "
    "téléconsultation (`modality`), `teleconsultation_url` est obligatoire : https sur un hôte autorisé par la "
    "communauté, sinon 422 `invalid` avec `errors.teleconsultation_url` ; le demandeur et le patient le reçoivent."
)
@answers_from_memory
def accept(args: dict[str, Any], request_id: int) -> Any:
    """Take the patient: the first acceptance wins."""
    shown = physician_actions.accept_offer(
        user=current_user(),
        request_id=request_id,
        appointment_at=args["appointment_at"],
        place=args.get("place"),
        now=now(),
        client=client_label(),
        teleconsultation_url=args.get("teleconsultation_url"),
    )
    return jsonify(request_json(shown))


@bp.route("/requests/<int:request_id>/refuse", methods=["POST"])
@bp.arguments(RefuseIn)
@bp.response(200, RequestOut)
@answers_from_memory
def refuse(args: dict[str, Any], request_id: int) -> Any:
    """Decline the request; the treating GP's refusal opens it to the community at once."""
    shown = physician_actions.refuse_offer(
        user=current_user(), request_id=request_id, reason=args.get("reason"), now=now(), client=client_label()
    )
    return jsonify(request_json(shown))


@bp.route("/requests/<int:request_id>/outcome", methods=["POST"])
@bp.arguments(OutcomeIn)
@bp.response(200, RequestOut)
@answers_from_memory
def outcome(args: dict[str, Any], request_id: int) -> Any:
    """Record whether the patient came, with the synthesis for their treating GP.

    The outcome is recorded from the appointment on (before it: 409 `too_early`, with `errors.outcome`). A mis-tapped
    outcome is replaced by the other one within 24 h of its first record (an `outcome_corrected` event, the report
    follows; a synthesis already written stays); the same outcome again is 409 `already_recorded`, after 24 h 409
    `outcome_final`. A request
    opened without the patient's birth date is completed by `patient_birth_date` (ignored when it has one). When the
    patient was seen and the synthesis goes to the treating GP over MSSanté, the birth date is required: without it,
    422 `birth_date_required` (`errors.patient_birth_date`), nothing recorded. A date in the future or before 1900:
    422 `invalid`.
    """
    shown = physician_actions.record_outcome(
        user=current_user(),
        request_id=request_id,
        outcome=args["outcome"],
        synthesis=args.get("synthesis"),
        birth_date=args.get("patient_birth_date"),
        now=now(),
        client=client_label(),
    )
    return jsonify(request_json(shown))


@bp.route("/requests/<int:request_id>/release", methods=["POST"])
@bp.arguments(ReleaseIn)
@bp.response(200, RequestOut)
@bp.alt_response(
    409,
    description="Pas acceptée par moi (not_accepted_by_you : pas encore acceptée, ou par un autre médecin) "
    "ou rendez-vous passé (too_late)",
)
@answers_from_memory
def release(args: dict[str, Any], request_id: int) -> Any:
    """Hand the patient back before the appointment: the request goes back to the community, the patient is told."""
    shown = physician_actions.release_patient(
        user=current_user(), request_id=request_id, reason=args["reason"], now=now(), client=client_label()
    )
    return jsonify(request_json(shown))
