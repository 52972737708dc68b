"""Callbacks from the providers: Twilio's SMS delivery statuses, authenticated by their signature."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import fields, validate
from twilio.request_validator import RequestValidator

from config import settings
from dispatch.errors import Problem
from dispatch.notify import service
from dispatch.runtime import now
from dispatch.schemas import Schema

PREFIX = "/api/v1"
bp = Blueprint("webhooks", __name__, url_prefix=PREFIX, description="Rappels des fournisseurs (Twilio)")

STATUS_PATH = "/webhooks/twilio/status"


def status_callback_url(config: Mapping[str, Any]) -> str:
    """Return the URL Twilio is asked to post an SMS's statuses to, as its signature covers it."""
    return settings.public_url(config, PREFIX + STATUS_PATH)


class TwilioStatusIn(Schema):
    """The fields of Twilio's status callback we use; Twilio sends more, all signed."""

    class Meta:
        unknown = ma.EXCLUDE

    MessageSid = fields.String(required=True, validate=validate.Regexp(r"^(SM|MM)[0-9a-fA-F]{32}$"))  # noqa: N815
    MessageStatus = fields.String(
        required=True,  # noqa: N815
        validate=validate.OneOf(service.TWILIO_STATUSES),
    )
    ErrorCode = fields.String(validate=validate.Length(max=10))  # noqa: N815


@bp.before_request
def check_signature() -> None:
    """Answer 403 unless X-Twilio-Signature signs this exact public URL and form with our auth token."""
    auth_token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    # Twilio signs the URL it called: ours as the public sees it, not as the proxy forwards it.
    # Built as status_callback_url builds what Twilio is given: the two cannot drift apart.
    url = settings.public_url(current_app.config, request.full_path.rstrip("?"))
    if not auth_token or not signature or not RequestValidator(auth_token).validate(url, request.form, signature):
        raise Problem(403, "bad_signature", "Signature Twilio absente ou invalide.")


@bp.route(STATUS_PATH, methods=["POST"])
@bp.arguments(TwilioStatusIn, location="form", content_type="application/x-www-form-urlencoded")
@bp.response(204)
@bp.alt_response(403, description="Signature X-Twilio-Signature absente ou invalide")
@bp.alt_response(404, description="Aucun SMS envoyé par ce service ne porte ce MessageSid")
@bp.doc(
    security=[],
    summary="Statut de remise d'un SMS (rappel Twilio)",
    description="Appelé par Twilio, sans jeton : l'en-tête X-Twilio-Signature (HMAC de l'URL publique "
    "DISPATCH_PUBLIC_URL + chemin et des champs du formulaire, clé TWILIO_AUTH_TOKEN) fait "
    "foi. Le statut d'un SMS ne fait qu'avancer : accepted, scheduled < queued < sending < sent < "
    "delivered, partially_delivered, undelivered, failed ou canceled < read ; un rappel en retard est "
    "ignoré, comme receiving et received (statuts d'un message entrant).",
)
def twilio_status(form: dict[str, Any]) -> None:
    """Record a delivery status Twilio reports for one of our SMS."""
    found = service.record_sms_status(
        provider_id=form["MessageSid"],
        status=form["MessageStatus"],
        error_code=form.get("ErrorCode") or None,
        now=now(),
        hooks=current_app.extensions["dispatch.hooks"],
    )
    if not found:
        raise Problem(404, "not_found", "Aucun SMS de ce service ne porte ce MessageSid.")
