"""French messages: what a user reads when a field is wrong.

Fields get theirs from the schemas' base (`dispatch.schemas.Schema.on_bind_field`), validators from
`install()`, which create_app calls: nothing is changed when a module is imported.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

# Per field class, its messages in French (a subclass inherits its bases' unless it has its own).
FIELD_MESSAGES: dict[type, dict[str, str]] = {
    fields.Field: {
        "required": "Champ obligatoire.",
        "null": "Ce champ ne peut pas être nul.",
        "validator_failed": "Valeur invalide.",
    },
    fields.String: {"invalid": "Chaîne de caractères attendue.", "invalid_utf8": "Texte UTF-8 invalide."},
    fields.Integer: {"invalid": "Nombre entier attendu."},
    fields.Number: {"invalid": "Nombre attendu.", "too_large": "Nombre trop grand."},
    fields.Boolean: {"invalid": "Booléen attendu (true ou false)."},
    fields.Date: {"invalid": "Date attendue au format AAAA-MM-JJ."},
    fields.DateTime: {"invalid": "Date et heure ISO 8601 attendues."},
    fields.Email: {"invalid": "Adresse électronique invalide."},
    fields.Nested: {"type": "Objet JSON attendu."},
    fields.List: {"invalid": "Liste attendue."},
    fields.Mapping: {"invalid": "Objet JSON attendu."},
}
# Validators that keep their message when created: translated per instance, unless the schema chose one.
VALIDATOR_MESSAGES: dict[type, str] = {
    validate.OneOf: "Valeur attendue parmi : {choices}.",
    validate.Regexp: "Format invalide.",
    validate.Email: "Adresse électronique invalide.",
}
SCHEMA_MESSAGES = {"type": "Objet JSON attendu.", "unknown": "Champ inconnu."}


def translate(field: fields.Field) -> None:
    """Give a bound field the French text of every message it still has in marshmallow's English."""
    english: dict[str, Any] = {}
    french: dict[str, str] = {}
    for cls in reversed(type(field).__mro__):
        if cls.__module__.startswith("marshmallow"):  # the project's own fields speak French already
            english.update(cls.__dict__.get("default_error_messages", {}))
        else:
            english = {key: value for key, value in english.items() if key not in cls.__dict__.get("default_error_messages", {})}
        french.update(FIELD_MESSAGES.get(cls, {}))
    for key, text in french.items():
        if key in field.error_messages and field.error_messages[key] == english.get(key):
            field.error_messages[key] = text  # a message the schema chose itself is kept
    for validator in field.validators:
        french_text = VALIDATOR_MESSAGES.get(type(validator))
        if french_text is not None and getattr(validator, "error", None) == getattr(type(validator), "default_message", None):
            validator.error = french_text  # type: ignore[attr-defined]
    inner = getattr(field, "inner", None)
    if isinstance(inner, fields.Field):
        translate(inner)


def install() -> None:
    """Give the validators whose messages are read when they fail (Length, Range) French ones (idempotent)."""
    validate.Length.message_min = "{min} caractères au moins."
    validate.Length.message_max = "{max} caractères au plus."
    validate.Length.message_all = "De {min} à {max} caractères."
    validate.Length.message_equal = "Exactement {equal} caractères."
    validate.Range.message_min = "Doit être {min_op} {{min}}."
    validate.Range.message_max = "Doit être {max_op} {{max}}."
    validate.Range.message_all = "Doit être {min_op} {{min}} et {max_op} {{max}}."
    validate.Range.message_gte = "supérieur ou égal à"
    validate.Range.message_gt = "supérieur à"
    validate.Range.message_lte = "inférieur ou égal à"
    validate.Range.message_lt = "inférieur à"
