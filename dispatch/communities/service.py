"""Use cases of communities: create and change them, physicians' devices and availability, treating GPs.

Members joining and leaving (add, import a roster, deactivate) are in `membership`; their later life in `members`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from dispatch.auth.models import Membership
from dispatch.communities.models import Community, Device, DirectoryEntry, Physician
from dispatch.db import db
from dispatch.professions import PHYSICIAN


class Conflict(Exception):
    """A unique value is already taken; `code` is the API's error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def device_key(token: str) -> str:
    """Return the unique key of a device token (tokens can be long)."""
    return hashlib.sha256(token.encode()).hexdigest()


def rpps_valid(rpps: str) -> bool:
    """Say whether an RPPS number has 11 digits and a valid Luhn check digit."""
    return len(rpps) == 11 and rpps.isdigit() and luhn_valid(rpps)


def finess_valid(finess: str) -> bool:
    """Say whether a FINESS number is well formed: 9 characters, its département first (2A/2B for Corsica), and a
    Luhn check digit over the nine digits (Corsica's numbers, with their letters, are checked for form only)."""
    if len(finess) != 9 or not finess[2:].isdigit():
        return False
    if finess[:2] in ("2A", "2B"):
        return True
    return finess[:2].isdigit() and luhn_valid(finess)


def luhn_valid(number: str) -> bool:
    """Say whether a string of digits ends with a valid Luhn check digit."""
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def create_community(
    *, name: str, timezone: str, exclusive_window_s: int, response_window_s: int, now: datetime, region: str = "FR"
) -> Community:
    """Create a community (CPTS) in a phone numbering region and commit."""
    if db.session.scalar(select(Community.id).where(Community.name == name)) is not None:
        raise Conflict("name_taken", "Une communauté porte déjà ce nom.")
    community = Community(
        name=name,
        timezone=timezone,
        region=region,
        exclusive_window_s=exclusive_window_s,
        response_window_s=response_window_s,
        created_at=now,
    )
    db.session.add(community)
    db.session.commit()
    return community


def update_community(*, community: Community, changes: dict[str, Any]) -> Community:
    """Change a community's name or windows; running requests keep their plan."""
    renamed = "name" in changes and changes["name"] != community.name
    if renamed and db.session.scalar(select(Community.id).where(Community.name == changes["name"])) is not None:
        raise Conflict("name_taken", "Une communauté porte déjà ce nom.")
    for key, value in changes.items():
        setattr(community, key, value)
    db.session.commit()
    return community


DEVICE_TAKEN = (
    "device_taken",
    "Cet appareil reçoit déjà les notifications d'un autre médecin : il doit d'abord les désactiver sur cet appareil.",
)


# A physician's phones and browsers at most: each push goes to all of them, so a stolen token cannot register
# thousands of endpoints to fan every offer out to; an 11th replaces the one a push reached least lately.
MAX_DEVICES = 10


def register_device(*, physician: Physician, platform: str, token: str, now: datetime) -> tuple[Device, bool]:
    """Register a phone for pushes; return the device and whether it is new; Conflict if another physician holds it.

    Past MAX_DEVICES, the devices a push reached least lately (else registered first) are removed to make room.
    """
    key = device_key(token)
    device = db.session.scalar(select(Device).where(Device.token_key == key))
    if device is not None and device.physician_id == physician.id:
        return device, False
    if device is not None:  # held by another physician: never take their notifications over silently
        raise Conflict(*DEVICE_TAKEN)
    kept = (
        select(Device.id)
        .where(Device.physician_id == physician.id)
        .order_by(func.coalesce(Device.last_success_at, Device.created_at).desc(), Device.id.desc())
        .limit(MAX_DEVICES - 1)
    )
    db.session.execute(
        delete(Device)
        .where(Device.physician_id == physician.id, Device.id.not_in(kept.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    device = Device(physician_id=physician.id, platform=platform, token=token, token_key=key, created_at=now)
    db.session.add(device)
    db.session.commit()
    return device, True


def set_availability(*, physician: Physician, available: bool, until: datetime | None) -> Physician:
    """Switch a physician's availability, for good or until a time."""
    physician.available = available
    physician.available_until = until
    db.session.commit()
    return physician


def find_treating(*, community_id: int, rpps: str | None, profession: str = PHYSICIAN) -> Physician | None:
    """Return the member of this profession with this RPPS in the community, if any (the treating GP, the usual nurse...)."""
    if not rpps:
        return None
    query = (
        select(Physician)
        .join(Membership, Membership.user_id == Physician.user_id)
        .where(Physician.rpps == rpps, Physician.profession == profession, Membership.community_id == community_id)
    )
    return db.session.scalar(query)


MSSANTE_DOMAIN = "mssante.fr"


def is_mssante(address: str) -> bool:
    """Tell whether a secure address is in the MSSanté space: its domain is mssante.fr or ends with .mssante.fr."""
    domain = address.rpartition("@")[2].strip().lower().rstrip(".")
    return domain == MSSANTE_DOMAIN or domain.endswith("." + MSSANTE_DOMAIN)


@dataclass(frozen=True)
class OutsideTreating:
    """The community's directory entry of an outside treating GP, and the address it replaced, if it changed."""

    entry: DirectoryEntry
    previous_mssante: str | None = None

    @property
    def changed(self) -> bool:
        return self.previous_mssante is not None


def record_outside_treating(
    *, community: Community, rpps: str | None, name: str | None, mssante: str | None, now: datetime
) -> OutsideTreating:
    """Record or refresh a treating GP who is not a member in the community's own directory (caller's transaction).

    Raise ValueError if the address is outside the MSSanté space and the community does not allow it.
    """
    if mssante and not community.allow_non_mssante and not is_mssante(mssante):
        raise ValueError("L'adresse doit être une adresse de messagerie sécurisée de santé (domaine mssante.fr).")
    mine = select(DirectoryEntry).where(DirectoryEntry.community_id == community.id).order_by(DirectoryEntry.id)
    entry = None
    if rpps:
        entry = db.session.scalar(mine.where(DirectoryEntry.rpps == rpps).limit(1))
    elif name and mssante:
        entry = db.session.scalar(mine.where(DirectoryEntry.name == name, DirectoryEntry.mssante == mssante).limit(1))
    typed = "operator" if mssante else None  # where the address came from (a lookup may give one later)
    if entry is None:
        entry = DirectoryEntry(
            community_id=community.id, rpps=rpps, name=name, mssante=mssante, mssante_source=typed, created_at=now, updated_at=now
        )
        db.session.add(entry)
        db.session.flush()
        return OutsideTreating(entry)
    previous = entry.mssante if mssante and entry.mssante and mssante.lower() != entry.mssante.lower() else None
    if mssante and (previous is not None or not entry.mssante):
        entry.mssante_source, entry.mssante_type = typed, None  # the operator's word replaces the directory's
    entry.name = name or entry.name
    entry.mssante = mssante or entry.mssante
    entry.updated_at = now
    db.session.flush()
    return OutsideTreating(entry, previous)
