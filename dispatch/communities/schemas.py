"""Schemas of communities, members and accounts at the HTTP edge, shared by the API and the staff pages."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

import marshmallow as ma
from flask import has_request_context, request
from marshmallow import fields, validate

from dispatch.communities import service
from dispatch.communities.models import KINDS, Community
from dispatch.db import db
from dispatch.phones import REGIONS, normalize_phone
from dispatch.schemas import PHONE_CHARS, SINGLE_LINE, Schema, UTCDateTime, text

TIMEZONES = sorted(available_timezones())
WINDOW = validate.Range(min=0, max=7 * 24 * 3600)
REGION = fields.String(
    validate=validate.OneOf(REGIONS),
    metadata={
        "description": "Région de numérotation des numéros saisis au format national (« 41 23 45 ») : FR (métropole), "
        "RE, GP, MQ, GF, YT ou PM. Un numéro à dix chiffres se lit d'après son préfixe (0690, 0692…), où qu'il soit saisi."
    },
)


def community_region(community_id: object) -> str:
    """Return the phone region of a community, FR when there is no such community (refused further on)."""
    if not isinstance(community_id, int) or isinstance(community_id, bool):
        return "FR"
    community = db.session.get(Community, community_id)
    return community.region if community is not None else "FR"


def windows_valid(data: dict[str, Any], community: Community | None = None) -> None:
    """Refuse a response window under a minute, or an exclusive window not shorter than it."""
    exclusive = data.get("exclusive_window_s", community.exclusive_window_s if community else 3600)
    response = data.get("response_window_s", community.response_window_s if community else 7200)
    if response < 60:
        raise ma.ValidationError({"response_window_s": ["La fenêtre de réponse doit durer au moins 60 secondes."]})
    if exclusive >= response:
        raise ma.ValidationError(
            {"exclusive_window_s": ["La fenêtre réservée au médecin traitant doit être plus courte que la fenêtre de réponse."]}
        )


class CommunityIn(Schema):
    name = text(200, required=True)
    timezone = fields.String(load_default="Europe/Paris", validate=validate.OneOf(TIMEZONES))
    exclusive_window_s = fields.Integer(load_default=3600, validate=WINDOW, strict=True)
    response_window_s = fields.Integer(load_default=7200, validate=WINDOW, strict=True)

    @ma.validates_schema
    def windows(self, data: dict[str, Any], **kwargs: Any) -> None:
        windows_valid(data)


class CommunityPatch(Schema):
    name = text(200)
    exclusive_window_s = fields.Integer(validate=WINDOW, strict=True)
    response_window_s = fields.Integer(validate=WINDOW, strict=True)
    allow_non_mssante = fields.Boolean(
        metadata={"description": "Accepter pour un médecin traitant extérieur une adresse hors de l'espace MSSanté (mssante.fr)"}
    )
    region = REGION


class CommunityOut(Schema):
    id = fields.Integer()
    name = fields.String()
    timezone = fields.String()
    exclusive_window_s = fields.Integer()
    response_window_s = fields.Integer()
    allow_non_mssante = fields.Boolean()
    region = fields.String(metadata={"description": REGION.metadata["description"]})
    created_at = UTCDateTime()


class MemberIn(Schema):
    role = fields.String(required=True, validate=validate.OneOf(("coordinator", "operator", "physician")))
    login = text(120, required=True)
    password = fields.String(
        required=True, validate=validate.Length(min=10, max=256, error="Le mot de passe doit compter entre 10 et 256 caractères.")
    )
    name = text(200, required=True)
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(validate=[validate.Length(min=4, max=40), PHONE_CHARS, SINGLE_LINE])
    rpps = fields.String(validate=[validate.Regexp(r"^[0-9]{11}$", error="Numéro RPPS invalide (11 chiffres)."), SINGLE_LINE])
    kind = fields.String(validate=validate.OneOf(KINDS))
    mssante = fields.Email(validate=validate.Length(max=254))
    address = text(300)

    def __init__(self, *args: Any, region: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.region = region  # the community's; None: the one named by the URL (/communities/<id>/members)

    def _region(self) -> str:
        if self.region is not None:
            return self.region
        view_args = request.view_args if has_request_context() else None
        return community_region((view_args or {}).get("community_id"))

    @ma.validates_schema
    def physician_fields(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        if "phone" in data:
            try:
                data["phone"] = normalize_phone(data["phone"], self._region())
            except ValueError:
                errors["phone"] = ["Numéro de téléphone invalide."]
        if data.get("role") == "physician":
            if not data.get("rpps"):
                errors["rpps"] = ["Le numéro RPPS est obligatoire pour un médecin."]
            elif not service.rpps_valid(data["rpps"]):
                errors["rpps"] = ["Numéro RPPS invalide (11 chiffres, clé de Luhn)."]
            if not data.get("kind"):
                errors["kind"] = ["Le statut du médecin est obligatoire."]
        if errors:
            raise ma.ValidationError(errors)


class MemberCreated(Schema):
    user_id = fields.Integer()
    role = fields.String()
    physician_id = fields.Integer()


class MemberOut(Schema):
    user_id = fields.Integer()
    login = fields.String()
    name = fields.String()
    role = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    active = fields.Boolean()
    physician = fields.Dict(allow_none=True)


class CommunityRole(Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String()


class PhysicianBrief(Schema):
    id = fields.Integer()
    rpps = fields.String()
    kind = fields.String()
    available = fields.Boolean()


class MeOut(Schema):
    id = fields.Integer()
    login = fields.String()
    name = fields.String()
    role = fields.String()
    communities = fields.List(fields.Nested(CommunityRole))
    physician = fields.Nested(PhysicianBrief, allow_none=True)
