"""Phone number normalisation to E.164, French numbering plan by default."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

INVALID_PHONE = "Numéro de téléphone invalide"
# The numbering regions a community can be in: metropolitan France and the overseas departments and
# collectivities with French numbers (La Réunion, Guadeloupe, Martinique, Guyane, Mayotte, Saint-Pierre-et-Miquelon).
REGIONS = ("FR", "RE", "GP", "MQ", "GF", "YT", "PM")
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# The overseas departments share the French ten-digit national format ("0690 12 34 56") but have
# country codes of their own: the ARCEP prefix says which (phonenumbers' region for it).
OVERSEAS_PREFIXES = {
    "0590": "GP",  # Guadeloupe, Saint-Barthélemy, Saint-Martin: +590
    "0690": "GP",
    "0691": "GP",
    "0594": "GF",  # Guyane: +594
    "0694": "GF",
    "0596": "MQ",  # Martinique: +596
    "0696": "MQ",
    "0697": "MQ",
    "0262": "RE",  # La Réunion: +262
    "0263": "RE",
    "0692": "RE",
    "0693": "RE",
    "0269": "YT",  # Mayotte: +262
    "0639": "YT",
}


def normalize_phone(raw: str, region: str = "FR") -> str:
    """Return the E.164 form of a phone number, national formats read as in `region`; raise ValueError (French)."""
    text = (raw or "").strip()
    if not text or any(c.isalpha() for c in text):
        raise ValueError(INVALID_PHONE)
    if text.startswith("00"):
        text = "+" + text[2:]  # international prefix used in France and most of Europe
    digits = "".join(c for c in text if c.isdigit())
    if not text.startswith("+") and len(digits) == 10 and digits.startswith("0"):
        # The ten-digit plan is one for metropolitan France and the overseas departments: the prefix says where
        # the number belongs, whatever the community's region (a visitor's 06 in La Réunion is metropolitan).
        region = OVERSEAS_PREFIXES.get(digits[:4], "FR")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise ValueError(INVALID_PHONE) from error
    if not phonenumbers.is_valid_number(number):
        raise ValueError(INVALID_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Where a member's number may be when a coordinator enters it: metropolitan France and the community's own region;
# Guadeloupe's +590 also serves Saint-Barthélemy and Saint-Martin. Anywhere else (+252, +371…) only the admin.
_SHARED_CODES = {"GP": ("GP", "BL", "MF"), "RE": ("RE",), "YT": ("YT",)}


def national(e164: str) -> str:
    """Return a number as people write it: national for a French one (01 45 67 89 10), else international."""
    try:
        number = phonenumbers.parse(e164, "FR")
    except phonenumbers.NumberParseException:
        return e164
    french = number.country_code == 33
    return phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.NATIONAL if french else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def member_regions(region: str) -> tuple[str, ...]:
    """Return the numbering regions of a community's members: FR and the community's own (its sharers included)."""
    return ("FR", *_SHARED_CODES.get(region, (region,)))


def in_regions(e164: str, regions: tuple[str, ...]) -> bool:
    """Tell whether an E.164 number belongs to one of these numbering regions."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.region_code_for_number(number) in regions


def valid_in_some_region(raw: str) -> bool:
    """Tell whether the number is valid read from one of the REGIONS (its community's is checked later)."""
    for region in REGIONS:
        try:
            normalize_phone(raw, region)
        except ValueError:
            continue
        return True
    return False


def is_mobile(e164: str) -> bool:
    """Tell whether an E.164 number is a mobile number able to receive SMS."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _MOBILE_TYPES
