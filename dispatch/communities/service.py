"""Use cases of communities: create and change them, add members, devices, availability."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from flask import current_app
from sqlalchemy import select, update

from dispatch.auth import accounts
from dispatch.auth import service as auth
from dispatch.auth.models import Membership, Token, User
from dispatch.communities.models import Community, Device, DirectoryEntry, Physician
from dispatch.db import db


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
    if len(rpps) != 11 or not rpps.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(rpps)):
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


# (code, detail) of each conflict: a fresh exception is raised each time.
LOGIN_TAKEN = ("login_taken", "Cet identifiant est déjà utilisé.")
RPPS_TAKEN = ("rpps_taken", "Ce numéro RPPS est déjà enregistré.")
# Taken by an account of another community: which one, and that it exists, is not the coordinator's to know.
UNAVAILABLE = (
    "member_unavailable",
    "Identifiant ou numéro RPPS indisponible. Choisissez un autre identifiant ; "
    "pour un médecin déjà inscrit dans une autre CPTS, adressez-vous à l'administrateur.",
)


def _clash(*, community_id: int, logins: list[str], rpps: list[str]) -> dict[str, tuple[str, str]]:
    """Return, for each taken login or RPPS, what a coordinator of the community may be told about it.

    Taken in this community: which field (they see their members anyway). Taken elsewhere only: a generic
    conflict that names neither the field nor the community, so no account of another community is revealed.
    """
    members = select(Membership.user_id).where(Membership.community_id == community_id)
    found: dict[str, tuple[str, str]] = {}
    if logins:
        for login, mine in db.session.execute(select(User.login, User.id.in_(members)).where(User.login.in_(logins))):
            found[login] = LOGIN_TAKEN if mine else UNAVAILABLE
    if rpps:
        for number, mine in db.session.execute(
            select(Physician.rpps, Physician.user_id.in_(members)).where(Physician.rpps.in_(rpps))
        ):
            found.setdefault(number, RPPS_TAKEN if mine else UNAVAILABLE)
    return found


def add_member(
    *,
    community: Community,
    role: str,
    login: str,
    name: str,
    now: datetime,
    ph: PasswordHasher,
    password: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    rpps: str | None = None,
    kind: str | None = None,
    mssante: str | None = None,
    address: str | None = None,
    invite: str | None = None,
    by: User | None = None,
    public_url: str | None = None,
) -> tuple[User, Physician | None]:
    """Create an account in a community (a physician record for physicians) and commit.

    Without a password the member is invited, in the same transaction, to choose theirs by a single-use link
    (SMS or mail, `invite`; the default as accounts.reset_channel says): `by` and `public_url` are then required.
    """
    clash = _clash(community_id=community.id, logins=[login], rpps=[rpps] if rpps else [])
    for value in (login, rpps):
        if value and value in clash:
            raise Conflict(*clash[value])
    user, physician = _new_member(
        community=community,
        role=role,
        login=login,
        password=password,
        name=name,
        now=now,
        ph=ph,
        email=email,
        phone=phone,
        rpps=rpps,
        kind=kind,
        mssante=mssante,
        address=address,
    )
    if password is None:
        assert by is not None and public_url is not None, "an invitation needs who sends it and the service's address"
        accounts.start_invitation(user=user, by=by, community=community.name, now=now, public_url=public_url, channel=invite)
    db.session.commit()
    return user, physician


def _new_member(
    *,
    community: Community,
    role: str,
    login: str,
    password: str | None,
    name: str,
    now: datetime,
    ph: PasswordHasher,
    email: str | None,
    phone: str | None,
    rpps: str | None,
    kind: str | None,
    mssante: str | None,
    address: str | None,
) -> tuple[User, Physician | None]:
    user = auth.create_user(login=login, password=password, name=name, role=role, now=now, ph=ph, email=email, phone=phone)
    db.session.add(Membership(user_id=user.id, community_id=community.id, role=role, created_at=now))
    physician = None
    if role == "physician":
        assert rpps and kind
        physician = Physician(user_id=user.id, rpps=rpps, kind=kind, mssante=mssante, address=address, available=True)
        db.session.add(physician)
    db.session.flush()
    return user, physician


DEVICE_TAKEN = (
    "device_taken",
    "Cet appareil reçoit déjà les notifications d'un autre médecin : il doit d'abord les désactiver sur cet appareil.",
)


def register_device(*, physician: Physician, platform: str, token: str, now: datetime) -> tuple[Device, bool]:
    """Register a phone for pushes; return the device and whether it is new; Conflict if another physician holds it."""
    key = device_key(token)
    device = db.session.scalar(select(Device).where(Device.token_key == key))
    if device is not None and device.physician_id == physician.id:
        return device, False
    if device is not None:  # held by another physician: never take their notifications over silently
        raise Conflict(*DEVICE_TAKEN)
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


def find_treating(*, community_id: int, rpps: str | None) -> Physician | None:
    """Return the member physician with this RPPS in the community, if any."""
    if not rpps:
        return None
    query = (
        select(Physician)
        .join(Membership, Membership.user_id == Physician.user_id)
        .where(Physician.rpps == rpps, Membership.community_id == community_id)
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


def member_of(*, community: Community, user_id: int) -> User | None:
    """Return the account of a member of the community, or None."""
    return db.session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.community_id == community.id)
    )


# What other domains do once a deactivation is committed (the requests held for a treating GP go to their
# community): registered by create_app under this key, as callables taking `user_id` and `now`.
AFTER_DEACTIVATION = "dispatch.after_deactivation"
AfterDeactivation = Callable[..., object]


def deactivate_member(*, community: Community, user_id: int, now: datetime) -> User:
    """Deactivate a member's account: no sign-in, no new offers, every token and unused link revoked; commit.

    Then the registered after-deactivation hooks run (each commits its own work).
    """
    user = member_of(community=community, user_id=user_id)
    if user is None:
        raise LookupError(user_id)
    user.active = False
    db.session.execute(update(Token).where(Token.user_id == user.id, Token.revoked_at.is_(None)).values(revoked_at=now))
    accounts.cancel_links(user_id=user.id, now=now)  # a reactivated account gets a fresh link, never an old one
    db.session.commit()
    hooks: tuple[AfterDeactivation, ...] = current_app.extensions.get(AFTER_DEACTIVATION, ())
    for hook in hooks:
        hook(user_id=user.id, now=now)
    return user


class RosterError(Exception):
    """Some lines of a roster clash with existing accounts or with each other; `errors` maps index to message."""

    def __init__(self, errors: dict[int, str]) -> None:
        super().__init__("roster conflicts")
        self.errors = errors


def import_members(
    *,
    community: Community,
    members: list[dict[str, Any]],
    now: datetime,
    ph: PasswordHasher,
    by: User | None = None,
    public_url: str | None = None,
) -> list[tuple[User, Physician | None]]:
    """Add validated members all at once, in one transaction, after checking no login or RPPS is taken (RosterError).

    Each member without a password is invited to choose theirs (SMS, else mail): `by` and `public_url` are then required.
    """
    errors: dict[int, str] = {}
    logins = [m["login"] for m in members]
    rpps = [str(m["rpps"]) for m in members if m.get("rpps")]
    taken = _clash(community_id=community.id, logins=logins, rpps=rpps)
    seen_logins: set[str] = set()
    seen_rpps: set[str] = set()
    for index, member in enumerate(members):
        if member["login"] in taken:
            errors[index] = taken[member["login"]][1]
        elif member["login"] in seen_logins:
            errors[index] = LOGIN_TAKEN[1]
        elif member.get("rpps") and member["rpps"] in taken:
            errors[index] = taken[member["rpps"]][1]
        elif member.get("rpps") and member["rpps"] in seen_rpps:
            errors[index] = RPPS_TAKEN[1]
        seen_logins.add(member["login"])
        if member.get("rpps"):
            seen_rpps.add(member["rpps"])
    if errors:
        raise RosterError(errors)
    added = []
    for member in members:
        fields = {"email": None, "phone": None, "rpps": None, "kind": None, "mssante": None, "address": None, **member}
        invite = fields.pop("invite", None)
        fields.setdefault("password", None)
        user, physician = _new_member(community=community, now=now, ph=ph, **fields)
        if fields["password"] is None:
            assert by is not None and public_url is not None, "an invitation needs who sends it and the service's address"
            accounts.start_invitation(user=user, by=by, community=community.name, now=now, public_url=public_url, channel=invite)
        added.append((user, physician))
    db.session.commit()
    return added
