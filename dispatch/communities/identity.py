"""A community's identity towards the outside: who keeps its documents, which MSSanté mailbox speaks for it, which
SMS sender signs its texts; each falls back on the installation's setting when the community has none.

Pure: values and settings in, a value out; no database, no Flask.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dispatch.notify.mailboxes import MSSANTE_FROM

IDENTITY_FIELDS = frozenset({"custodian_id", "mssante_from", "sms_sender"})  # set by the admin only
# IdNatStruct (ANS): "3" + SIRET (14 digits, Luhn key) or "1" + FINESS (9 digits).
_CUSTODIAN = re.compile(r"(?:3\d{14}|1\d{9})")
# An alphanumeric sender of 3 to 11 characters with at least one letter, or a number (short code or E.164).
_SMS_ALPHA = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9]{3,11}")
_SMS_NUMBER = re.compile(r"\+?[0-9]{3,15}")
# SIREN of La Poste: its establishments' SIRET do not follow Luhn (their digits add up to a multiple of 5).
_LA_POSTE = "356000000"


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def custodian_problem(value: str) -> str | None:
    """Say in French why `value` is not an IdNatStruct ("3" + SIRET or "1" + FINESS), or None when it is."""
    if not _CUSTODIAN.fullmatch(value):
        return "Identifiant de structure attendu : 3 suivi du SIRET (14 chiffres) ou 1 suivi du FINESS (9 chiffres)."
    siret = value[1:] if value.startswith("3") else ""
    if siret and not (_luhn(siret) or (siret.startswith(_LA_POSTE) and sum(map(int, siret)) % 5 == 0)):
        return "Ce SIRET n'existe pas : sa clé de contrôle est fausse."
    return None


def mssante_from_problem(value: str) -> str | None:
    """Say in French why `value` cannot be a community's MSSanté mailbox, or None when it can."""
    if not MSSANTE_FROM.fullmatch(value):
        return "Adresse de boîte aux lettres applicative MSSanté attendue (minuscules, sans espace), par exemple cpts@x.mssante.fr."
    return None


def sms_sender_problem(value: str) -> str | None:
    """Say in French why `value` cannot sign an SMS, or None when it can."""
    if _SMS_ALPHA.fullmatch(value) or _SMS_NUMBER.fullmatch(value):
        return None
    return "Émetteur SMS attendu : 3 à 11 lettres ou chiffres (dont une lettre au moins, sans espace ni accent), ou un numéro."


class HasIdentity(Protocol):
    custodian_id: str | None
    mssante_from: str | None
    sms_sender: str | None


@dataclass(frozen=True)
class Identity:
    """Who a community is to the outside, the installation's settings filling what it leaves unset."""

    custodian_id: str  # "" when neither the community nor the installation has one
    mssante_from: str
    sms_sender: str | None  # None: the SMS service's own default


def identity_of(community: HasIdentity | None, config: Mapping[str, Any]) -> Identity:
    """Return a community's identity: its own values, else DISPATCH_CUSTODIAN_ID, DISPATCH_SMTP_FROM, DISPATCH_SMS_FROM."""
    own = community if community is not None else None
    return Identity(
        custodian_id=(own and own.custodian_id) or str(config.get("DISPATCH_CUSTODIAN_ID") or ""),
        mssante_from=(own and own.mssante_from) or str(config.get("DISPATCH_SMTP_FROM") or ""),
        sms_sender=(own and own.sms_sender) or (str(config.get("DISPATCH_SMS_FROM") or "") or None),
    )
