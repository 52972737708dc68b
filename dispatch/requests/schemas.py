"""Schemas of requests at the HTTP edge, and how a request is shown, full or anonymised."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from marshmallow import fields, validate
from sqlalchemy import bindparam, select
from sqlalchemy.orm.util import identity_key

from dispatch.auth.models import User
from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.escalation.machine import STATES
from dispatch.escalation.models import MOTIVES, SOURCES, TREATING_STATUSES, Request
from dispatch.notify.phones import normalize_phone
from dispatch.schemas import PHONE_CHARS, UTCDateTime, text, utc_iso


class PatientIn(ma.Schema):
    first_name = text(100, required=True)
    last_name = text(100, required=True)
    birth_date = fields.Date(validate=validate.Range(min=date(1900, 1, 1), max=date(2100, 1, 1)))
    sex = fields.String(validate=validate.OneOf(("F", "M", "U")))
    phone = fields.String(validate=[validate.Length(min=4, max=40), PHONE_CHARS])
    postcode = fields.String(validate=validate.Regexp(r"^(\d{5}|2[AB]\d{3})$", error="Code postal invalide."))
    city = text(100)

    @ma.validates("phone")
    def phone_valid(self, value: str, **kwargs: Any) -> None:
        try:
            normalize_phone(value)
        except ValueError:
            raise ma.ValidationError("Numéro de téléphone invalide.") from None

    @ma.post_load
    def normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if data.get("phone"):
            data["phone"] = normalize_phone(data["phone"])
        return data


class TreatingIn(ma.Schema):
    status = fields.String(required=True, validate=validate.OneOf(TREATING_STATUSES))
    rpps = fields.String(validate=validate.Regexp(r"^[0-9]{11}$", error="Numéro RPPS invalide (11 chiffres)."),
                         metadata={"description": "11 chiffres (la clé n'est pas exigée : le numéro est lu au "
                                                  "téléphone et sert seulement à retrouver un membre)"})
    name = text(200)
    mssante = fields.Email(validate=validate.Length(max=254))

    @ma.validates_schema
    def declared(self, data: dict[str, Any], **kwargs: Any) -> None:
        rpps = data.get("rpps")
        if rpps is not None and (len(rpps) != 11 or not rpps.isdigit()):
            raise ma.ValidationError({"rpps": ["Numéro RPPS invalide (11 chiffres)."]})
        if data.get("status") == "declared" and not (data.get("rpps") or data.get("name")):
            raise ma.ValidationError({"rpps": ["Le RPPS ou le nom du médecin traitant déclaré est requis."]})


class RequestIn(ma.Schema):
    community_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**31))
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    motive = fields.String(required=True, validate=validate.OneOf(MOTIVES))
    description = text(4000, allow_empty=True)
    patient = fields.Nested(PatientIn, required=True)
    treating_physician = fields.Nested(TreatingIn, required=True)


class RequestQuery(ma.Schema):
    community_id = fields.Integer(validate=validate.Range(min=1, max=2**31))
    state = fields.String(validate=validate.OneOf(STATES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    before = fields.Integer(validate=validate.Range(min=1, max=2**62))


class PatientOut(ma.Schema):
    first_name = fields.String()
    last_name = fields.String()
    birth_date = fields.Date(allow_none=True)
    age = fields.Integer(allow_none=True)
    sex = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    postcode = fields.String(allow_none=True)
    city = fields.String(allow_none=True)


class TreatingOut(ma.Schema):
    status = fields.String()
    rpps = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    registered = fields.Boolean()


class AcceptedByOut(ma.Schema):
    physician_id = fields.Integer()
    name = fields.String()
    kind = fields.String()


class RequestOut(ma.Schema):
    id = fields.Integer()
    community_id = fields.Integer()
    state = fields.String(validate=validate.OneOf(STATES))
    source = fields.String()
    motive = fields.String()
    description = fields.String(allow_none=True)
    opened_at = UTCDateTime()
    exclusive_until = UTCDateTime(allow_none=True)
    expires_at = UTCDateTime()
    patient = fields.Nested(PatientOut)
    treating_physician = fields.Nested(TreatingOut)
    accepted_by = fields.Nested(AcceptedByOut, allow_none=True)
    accepted_at = UTCDateTime(allow_none=True)
    appointment_at = UTCDateTime(allow_none=True)
    place = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    anonymised = fields.Boolean()


class EventOut(ma.Schema):
    id = fields.Integer()
    at = UTCDateTime()
    type = fields.String()
    actor = fields.Dict(allow_none=True)
    data = fields.Dict()


def age(birth: date | None, at: datetime, tz: str) -> int | None:
    """Return the age in whole years at `at` in the community's time zone."""
    if birth is None:
        return None
    today = at.astimezone(ZoneInfo(tz)).date()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    return value


def request_json(shown: dict[str, Any]) -> dict[str, Any]:
    """Return what present() gives as the JSON body RequestOut documents (its dump, without its cost per call)."""
    return _json_value(shown)  # type: ignore[no-any-return]


_ACCEPTED_BY = (select(Physician.id, User.name, Physician.kind).join(User, User.id == Physician.user_id)
                .where(Physician.id == bindparam("physician_id")))


def _accepted_by(physician_id: int) -> dict[str, Any] | None:
    """Return who accepted, from the session when it holds them (their own answer), else in one light read."""
    known = db.session.identity_map.get(identity_key(Physician, physician_id))
    if isinstance(known, Physician):
        return {"physician_id": known.id, "name": known.user.name, "kind": known.kind}
    row = db.session.execute(_ACCEPTED_BY, {"physician_id": physician_id}).first()
    return None if row is None else {"physician_id": row.id, "name": row.name, "kind": row.kind}


# What present() reads of a request: a row of these answers it without loading the request (lists).
PRESENTED_COLUMNS = tuple(Request.__table__.c[name] for name in (
    "id", "community_id", "state", "source", "motive", "description", "opened_at", "exclusive_until", "expires_at",
    "patient_first_name", "patient_last_name", "patient_birth_date", "patient_sex", "patient_phone",
    "patient_postcode", "patient_city", "treating_status", "treating_physician_id", "treating_rpps",
    "treating_name", "accepted_by_id", "accepted_at", "appointment_at", "place", "outcome"))


def present(request: Any, *, full: bool, now: datetime, zone: str | None = None) -> dict[str, Any]:
    """Return a request (or a row of PRESENTED_COLUMNS, with its community's `zone`) as the API shows it.

    Anonymised leaves out who the patient and their GP are.
    """
    accepted = _accepted_by(request.accepted_by_id) if request.accepted_by_id else None
    patient: dict[str, Any] = {"age": age(request.patient_birth_date, now, zone or request.community.timezone),
                               "sex": request.patient_sex, "postcode": request.patient_postcode,
                               "city": request.patient_city}
    treating: dict[str, Any] = {"status": request.treating_status,
                                "registered": request.treating_physician_id is not None}
    if full:
        patient.update(first_name=request.patient_first_name, last_name=request.patient_last_name,
                       birth_date=request.patient_birth_date, phone=request.patient_phone)
        treating.update(rpps=request.treating_rpps, name=request.treating_name)
    return {
        "id": request.id, "community_id": request.community_id, "state": request.state, "source": request.source,
        "motive": request.motive, "description": request.description, "opened_at": request.opened_at,
        "exclusive_until": request.exclusive_until, "expires_at": request.expires_at, "patient": patient,
        "treating_physician": treating,
        "accepted_by": accepted,
        "accepted_at": request.accepted_at, "appointment_at": request.appointment_at, "place": request.place,
        "outcome": request.outcome, "anonymised": not full,
    }
