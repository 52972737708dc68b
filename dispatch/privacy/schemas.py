"""The HTTP shapes of a data subject's requests (the API and the pages read the same)."""

from __future__ import annotations

from datetime import date
from typing import Any

from marshmallow import fields, validate

from dispatch.requests.schemas import EventOut, RequestOut, request_json
from dispatch.schemas import PHONE_CHARS, SINGLE_LINE, Integer, Schema, name_text, text

BIRTH = validate.Range(min=date(1900, 1, 1), max=date(2100, 1, 1))
REFERENCE_DOC = (
    "La référence de la demande du patient (le numéro de son courrier au registre de la CPTS) : elle figure au registre des accès"
)


class SubjectIn(Schema):
    last_name = name_text(100, required=True)
    first_name = name_text(100, required=True)
    birth_date = fields.Date(required=True, validate=BIRTH)
    reference = text(100, required=True, metadata={"description": REFERENCE_DOC})


class PatientPatchIn(Schema):
    first_name = name_text(100)
    last_name = name_text(100)
    birth_date = fields.Date(allow_none=True, validate=BIRTH)
    sex = fields.String(allow_none=True, validate=validate.OneOf(("F", "M", "U")))
    phone = fields.String(allow_none=True, validate=[validate.Length(min=4, max=40), PHONE_CHARS, SINGLE_LINE])
    reference = text(100, metadata={"description": "Facultative : la référence de la demande de rectification du patient"})


class SubjectRequestOut(RequestOut):
    events = fields.List(fields.Nested(EventOut))
    synthesis_text = fields.String(allow_none=True, metadata={"description": "Le texte de la synthèse, s'il y en a une"})


class SubjectAccessOut(Schema):
    requests = fields.List(fields.Nested(SubjectRequestOut))


class SubjectErasureOut(Schema):
    erased = Integer(minimum=0, metadata={"description": "Demandes dont l'identité du patient vient d'être effacée"})


def subject_json(shown: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the requests handed over as the JSON body SubjectAccessOut documents."""
    return {
        "requests": [
            request_json({key: value for key, value in item.items() if key != "events"})
            | {"events": [request_json(event) for event in item["events"]]}
            for item in shown
        ]
    }
