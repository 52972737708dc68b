"""Shared pieces of the HTTP schemas: UTC times with Z, problems, pagination."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
from flask import Response, request
from marshmallow import fields, validate

from dispatch import messages_fr
from dispatch.db import MAX_ID
from dispatch.french import number

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what a BIGINT holds, and SQLite's integers
INT32_MIN = -(2**31)


class Schema(ma.Schema):
    """The base of every schema of the service: its messages in French."""

    error_messages = messages_fr.SCHEMA_MESSAGES

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        messages_fr.translate(field_obj)


# What a phone number may be written with; the number itself is checked with phonenumbers. (Python's `$` also
# matches before a final newline: the control-character check of the field catches it.)
PHONE_CHARS = validate.Regexp(r"^[0-9+ .()/-]+$", error="Numéro de téléphone invalide.")


def utc_iso(value: datetime) -> str:
    """Format an aware time as the API answers it: ISO 8601 in UTC, with Z."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class UTCDateTime(fields.AwareDateTime):
    """An ISO 8601 time with an offset on input; answered in UTC with Z."""

    default_error_messages = {
        "invalid": "Date et heure ISO 8601 attendues (ex. 2026-11-23T15:40:00+01:00).",
        "invalid_awareness": "Le fuseau horaire (ex. +01:00 ou Z) est obligatoire.",
    }

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return utc_iso(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or len(value) > 64:
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs).astimezone(timezone.utc)  # type: ignore[no-any-return]


# Characters no text may hold: controls (C0, DEL, C1), line and paragraph separators, bidirectional overrides.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


class NoControl(validate.Validator):
    """Refuse control characters; a multi-line text keeps its newlines and tabs."""

    def __init__(self, *, multiline: bool) -> None:
        self.allowed = frozenset("\n\t") if multiline else frozenset()
        self.error: str = (
            "Caractères de contrôle interdits (seuls les retours à la ligne et les tabulations sont permis)."
            if multiline
            else "Caractères de contrôle interdits (une seule ligne, sans tabulation)."
        )

    def __call__(self, value: str) -> str:
        for char in value:
            if char not in self.allowed and (char in _BIDI or unicodedata.category(char) in _FORBIDDEN_CATEGORIES):
                raise ma.ValidationError(self.error)
        return value


SINGLE_LINE = NoControl(multiline=False)  # for the fields that are not text(): codes, numbers, phone numbers


class NoInvisible(validate.Validator):
    """Refuse the characters that show nothing (format characters, Unicode's Cf): zero-width spaces and joiners
    (U+200B..U+200D, U+2060), the byte-order mark (U+FEFF), bidirectional marks and controls. In a name they make
    two people look alike, or one person two."""

    error = "Caractères invisibles interdits dans un nom (espace sans largeur, marque de sens d'écriture…)."

    def __call__(self, value: str) -> str:
        if any(unicodedata.category(char) == "Cf" for char in value):
            raise ma.ValidationError(self.error)
        return value


class TextLength(validate.Length):
    """A length check that says what is wrong the French way: '4 000 caractères au plus', 'Ce champ est vide.'

    A Length still, so the OpenAPI document gets its minLength and maxLength.
    """

    def __call__(self, value: Any) -> Any:
        length = len(value)
        if self.min is not None and length < self.min:
            raise ma.ValidationError("Ce champ est vide." if self.min == 1 else f"{number(self.min)} caractères au moins.")
        if self.max is not None and length > self.max:
            raise ma.ValidationError(f"{number(self.max)} caractères au plus.")
        return value


def text(
    max_length: int, *, required: bool = False, allow_empty: bool = False, multiline: bool = False, **kwargs: Any
) -> fields.String:
    """Return a bounded, trimmed string field with no control characters (newlines and tabs only if `multiline`)."""
    checks = [TextLength(min=None if allow_empty else 1, max=max_length), NoControl(multiline=multiline)]
    return Trimmed(required=required, multiline=multiline, validate=checks, **kwargs)


def name_text(max_length: int, **kwargs: Any) -> fields.String:
    """Return the field of a person's name: a text() with no invisible character."""
    field = text(max_length, **kwargs)
    field.validators.append(NoInvisible())
    return field


class Trimmed(fields.String):
    """A string with its surrounding blanks removed; a multi-line one with its line ends made \\n."""

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiline = multiline

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        result = super()._deserialize(value, attr, data, **kwargs)
        if self.multiline:
            result = result.replace("\r\n", "\n")  # what a browser's textarea posts
        return result.strip()


class Integer(fields.Integer):
    """The one integer field of every schema: bounded to what the database holds, so no body reaches it unchecked.

    `minimum` and `maximum` narrow the default (a 64-bit integer); the OpenAPI document gets them as its bounds.
    """

    def __init__(self, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX, **kwargs: Any) -> None:
        if not INT64_MIN <= minimum <= maximum <= INT64_MAX:
            raise ValueError(f"an integer field must stay within 64 bits, not [{minimum}, {maximum}]")
        extra = kwargs.pop("validate", None)
        checks = [validate.Range(min=minimum, max=maximum)]
        checks += [] if extra is None else list(extra) if isinstance(extra, (list, tuple)) else [extra]
        metadata = {"format": "int32" if minimum >= INT32_MIN and maximum <= MAX_ID else "int64", **kwargs.pop("metadata", {})}
        super().__init__(validate=checks, metadata=metadata, **kwargs)


def Id(**kwargs: Any) -> Integer:  # noqa: N802 -- a field type, named as one
    """Return the field of an id: an INTEGER column's key, 1 to 2**31 - 1 (PostgreSQL's int4)."""
    return Integer(minimum=1, maximum=MAX_ID, **kwargs)


class ProblemOut(Schema):
    """An RFC 9457 problem document; `errors` lists the invalid fields."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = Integer(required=True, minimum=100, maximum=599)
    detail = fields.String(required=True)
    code = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    relaunched_as = Id(
        metadata={"description": "Avec `already_relaunched` : la demande qui relance déjà celle-ci (une relance au plus)."}
    )


class PageArgs(Schema):
    limit = Integer(load_default=50, minimum=1, maximum=200)
    before = Id()


def with_next_link(response: Response, items: list[Any], limit: int) -> Response:
    """Add the RFC 8288 link to the next page when this one is full."""
    if len(items) == limit and items:
        args = request.args.to_dict()
        args["before"] = str(items[-1]["id"])
        args["limit"] = str(limit)
        response.headers["Link"] = f'<{request.base_url}?{urlencode(args)}>; rel="next"'
    return response
