"""French validation messages: what a user reads when a field is wrong."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate


def install() -> None:
    """Replace marshmallow's English default messages with French ones (create_app calls it; idempotent)."""
    fields.Field.default_error_messages.update({
        "required": "Champ obligatoire.", "null": "Ce champ ne peut pas être nul.",
        "validator_failed": "Valeur invalide."})
    fields.String.default_error_messages.update({
        "invalid": "Chaîne de caractères attendue.", "invalid_utf8": "Texte UTF-8 invalide."})
    fields.Integer.default_error_messages.update({"invalid": "Nombre entier attendu."})
    fields.Number.default_error_messages.update({"invalid": "Nombre attendu.", "too_large": "Nombre trop grand."})
    fields.Boolean.default_error_messages.update({"invalid": "Booléen attendu (true ou false)."})
    fields.Date.default_error_messages.update({"invalid": "Date attendue au format AAAA-MM-JJ."})
    fields.DateTime.default_error_messages.update({"invalid": "Date et heure ISO 8601 attendues."})
    fields.Email.default_error_messages.update({"invalid": "Adresse électronique invalide."})
    fields.Nested.default_error_messages.update({"type": "Objet JSON attendu."})
    fields.List.default_error_messages.update({"invalid": "Liste attendue."})
    fields.Mapping.default_error_messages.update({"invalid": "Objet JSON attendu."})
    ma.Schema._default_error_messages = {"type": "Objet JSON attendu.", "unknown": "Champ inconnu."}
    validate.Length.message_min = "Au moins {min} caractère(s)."
    validate.Length.message_max = "Au plus {max} caractères."
    validate.Length.message_all = "Entre {min} et {max} caractères."
    validate.Length.message_equal = "Exactement {equal} caractères."
    validate.OneOf.default_message = "Valeur attendue parmi : {choices}."
    validate.Range.message_min = "Doit être {min_op} {{min}}."
    validate.Range.message_max = "Doit être {max_op} {{max}}."
    validate.Range.message_all = "Doit être {min_op} {{min}} et {max_op} {{max}}."
    validate.Range.message_gte = "supérieur ou égal à"
    validate.Range.message_gt = "supérieur à"
    validate.Range.message_lte = "inférieur ou égal à"
    validate.Range.message_lt = "inférieur à"
    validate.Regexp.default_message = "Format invalide."
    validate.Email.default_message = "Adresse électronique invalide."
