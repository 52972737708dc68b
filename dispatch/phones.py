"""Phone number normalisation to E.164, French numbering plan by default."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

INVALID_PHONE = "Numéro de téléphone invalide"
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalize_phone(raw: str, region: str = "FR") -> str:
    """Return the E.164 form of a phone number, or raise ValueError with a French message."""
    text = (raw or "").strip()
    if not text or any(c.isalpha() for c in text):
        raise ValueError(INVALID_PHONE)
    if text.startswith("00"):
        text = "+" + text[2:]  # international prefix used in France and most of Europe
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise ValueError(INVALID_PHONE) from error
    if not phonenumbers.is_valid_number(number):
        raise ValueError(INVALID_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    """Tell whether an E.164 number is a mobile number able to receive SMS."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _MOBILE_TYPES
