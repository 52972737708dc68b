"""Use cases of members joining and leaving a community: add one, import a roster at once, deactivate.

Logins and RPPS numbers are unique across communities: a clash is told to a coordinator without revealing another
community's account. A member's later life (list, edit, reactivate, invite) is in `members`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from dispatch.auth import accounts, trail
from dispatch.auth import service as auth
from dispatch.auth.models import Membership, Token, User
from dispatch.communities import placing
from dispatch.communities.models import Community, Physician, Requester
from dispatch.communities.service import Conflict
from dispatch.db import db
from dispatch.professions import PHYSICIAN, role_of

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
        for model in (Physician, Requester):
            for number, mine in db.session.execute(select(model.rpps, model.user_id.in_(members)).where(model.rpps.in_(rpps))):
                found.setdefault(str(number), RPPS_TAKEN if mine else UNAVAILABLE)
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
    practice_phone: str | None = None,
    profession: str | None = PHYSICIAN,
    lat: float | None = None,
    lon: float | None = None,
    finess: str | None = None,
    invite: str | None = None,
    by: User | None = None,
    public_url: str | None = None,
) -> tuple[User, Physician | None]:
    """Create an account in a community (a physician record for physicians, a requester's for requesters) and commit.

    Without a password the member is invited, in the same transaction, to choose theirs by a single-use link
    (SMS or mail, `invite`; the default as accounts.reset_channel says): `by` and `public_url` are then required,
    and the link is rationed (accounts.Rationed: `by`'s links of the hour).
    """
    if password is None and by is not None:
        accounts.ration_link(user_id=None, by=by, now=now)
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
        practice_phone=practice_phone,
        profession=profession,
        lat=lat,
        lon=lon,
        finess=finess,
    )
    if by is not None:
        created = {"role": role_of(role, profession), "phone": phone, "email": email}
        if role == "requester":
            created |= {"profession": profession, "rpps": rpps, "finess": finess}
        if role == "physician":
            created |= {"mssante": mssante} if profession == PHYSICIAN else {"mssante": mssante, "profession": profession}
        trail.note(user_id=user.id, by=by, at=now, action="created", data=created)
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
    practice_phone: str | None = None,
    profession: str | None = PHYSICIAN,
    lat: float | None = None,
    lon: float | None = None,
    finess: str | None = None,
) -> tuple[User, Physician | None]:
    user = auth.create_user(login=login, password=password, name=name, role=role, now=now, ph=ph, email=email, phone=phone)
    db.session.add(Membership(user_id=user.id, community_id=community.id, role=role, created_at=now))
    physician = None
    if role == "requester":
        assert rpps or finess
        db.session.add(Requester(user_id=user.id, profession=profession, rpps=rpps, finess=finess))
    if role == "physician":
        assert rpps and kind and profession
        physician = Physician(
            user_id=user.id,
            rpps=rpps,
            kind=kind,
            profession=profession,
            lat=lat,
            lon=lon,
            mssante=mssante,
            address=address,
            practice_phone=practice_phone,
            available=True,
        )
        db.session.add(physician)
    db.session.flush()
    if physician is not None and address and (lat is None or lon is None):
        placing.place_practice(physician, now=now)
    return user, physician


def member_of(*, community: Community, user_id: int) -> User | None:
    """Return the account of a member of the community, or None."""
    return db.session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.community_id == community.id)
    )


PEER_ACCOUNT = (
    "peer_account",
    "Le compte d'un autre coordinateur est géré par l'administrateur\u00a0: vous ne pouvez ni changer ses coordonnées "
    "ni lui envoyer de lien de mot de passe.",
)
ACCOUNT_IN_USE = (
    "account_in_use",
    "Ce compte est utilisé par son titulaire\u00a0: seuls lui-même et l'administrateur peuvent changer son portable, son "
    "email ou son adresse MSSanté, ou lui envoyer un lien de mot de passe. Le titulaire peut demander un lien avec "
    "«\u00a0Mot de passe oublié\u00a0?\u00a0» sur la page de connexion.",
)
PEER_COORDINATOR = (
    "peer_coordinator",
    "Seul l'administrateur peut désactiver, réactiver ou renommer un autre coordinateur.",
)
# Where a password link, a notice or a synthesis goes: whoever chooses them chooses who can take the account over.
CONTACT_FIELDS = ("email", "phone", "mssante")


class Forbidden(Exception):
    """An action on a member that `by` may not take (403): `code` and `detail` as the API answers them."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def _role_in(community: Community, user_id: int) -> str | None:
    return db.session.scalar(select(Membership.role).where(Membership.user_id == user_id, Membership.community_id == community.id))


def in_use(user: User) -> bool:
    """Tell whether an account is in use: its holder chose a password (or was given one), so it can sign in."""
    return user.password_set_at is not None


def contact_refusal(*, by: User, user_id: int, role: str | None, in_use: bool) -> tuple[str, str] | None:
    """Return why `by` may not choose where a member's links go (code, detail), or None if they may: change their
    phone, email or MSSanté address, or send them a link to choose a password. The one home of this rule, for the
    API and the pages (which also hide the buttons it refuses).

    A link must never go to a contact chosen by someone who could not already read everything the account reads:
    the admin and the holder may; a coordinator may for an account not in use yet (an invited member who has not
    chosen a password) unless it is another coordinator's. `role` is the member's role in the community.
    """
    if by.role == "admin" or by.id == user_id:
        return None
    if role == "coordinator":
        return PEER_ACCOUNT
    if in_use:
        return ACCOUNT_IN_USE
    return None


def standing_refusal(*, by: User, user_id: int, role: str | None) -> tuple[str, str] | None:
    """Return why `by` may not deactivate, reactivate or rename a member (code, detail), or None if they may: another
    coordinator is the admin's to manage."""
    if by.role == "admin" or by.id == user_id or role != "coordinator":
        return None
    return PEER_COORDINATOR


def check_contacts(*, by: User, community: Community, user: User) -> None:
    """Raise Forbidden unless `by` may change this member's contacts or send them a link (contact_refusal)."""
    refusal = contact_refusal(by=by, user_id=user.id, role=_role_in(community, user.id), in_use=in_use(user))
    if refusal is not None:
        raise Forbidden(*refusal)


def check_standing(*, by: User, community: Community, user: User) -> None:
    """Raise Forbidden unless `by` may deactivate, reactivate or rename this member (standing_refusal)."""
    refusal = standing_refusal(by=by, user_id=user.id, role=_role_in(community, user.id))
    if refusal is not None:
        raise Forbidden(*refusal)


# What other domains do once a deactivation is committed (the requests held for a treating GP go to their
# community): registered by create_app under this key, as callables taking `user_id` and `now`.
AFTER_DEACTIVATION = "dispatch.after_deactivation"
AfterDeactivation = Callable[..., object]


def deactivate_member(*, community: Community, user_id: int, by: User, now: datetime) -> User:
    """Deactivate a member's account: no sign-in, no new offers, every token and unused link revoked; commit.

    LookupError if not a member, Forbidden if `by` may not (check_standing). Then the registered
    after-deactivation hooks run (each commits its own work).
    """
    user = member_of(community=community, user_id=user_id)
    if user is None:
        raise LookupError(user_id)
    check_standing(by=by, community=community, user=user)
    if user.active:
        trail.note(user_id=user.id, by=by, at=now, action="deactivated")
    user.active = False
    db.session.execute(update(Token).where(Token.user_id == user.id, Token.revoked_at.is_(None)).values(revoked_at=now))
    accounts.cancel_links(user_id=user.id, now=now)  # a reactivated account gets a fresh link, never an old one
    db.session.commit()
    hooks: tuple[AfterDeactivation, ...] = current_app.extensions.get(AFTER_DEACTIVATION, ())
    for hook in hooks:
        hook(user_id=user.id, now=now)
    return user


class RosterError(Exception):
    """Some lines of a roster clash with existing accounts or with each other; `errors` maps index to message.

    `added` are the members imported before the clash was found (a login taken meanwhile by another import: the
    batches before it are committed); empty when the clash was seen before anything was written.
    """

    def __init__(self, errors: dict[int, str], added: list[tuple[User, Physician | None]] | None = None) -> None:
        super().__init__("roster conflicts")
        self.errors = errors
        self.added = added or []


# Rows written per transaction: the database's write lock is held for one batch at a time, so that sign-ins, the
# tick and the outbox's sender go on between batches (one transaction of a whole roster held SQLite's lock for
# 48 seconds). With no password hash to compute, a batch takes a few milliseconds.
IMPORT_BATCH = 50
# SQLite's lock is not a queue: a writer that waits polls it now and then (its busy handler sleeps up to 100 ms), and
# an import that took it again at once would starve it. After each batch the import leaves the lock free for as
# long as the batch held it (at most this): it takes half of the database's write time at most.
IMPORT_PAUSE_MAX_S = 0.1


def _roster_clashes(community: Community, members: list[dict[str, Any]]) -> dict[int, str]:
    """Return, by index, the lines whose login or RPPS is taken already or repeated in the roster."""
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
    return errors


def import_members(
    *,
    community: Community,
    members: list[dict[str, Any]],
    now: datetime,
    ph: PasswordHasher,
    by: User | None = None,
    public_url: str | None = None,
    batch: int = IMPORT_BATCH,
) -> list[tuple[User, Physician | None]]:
    """Add validated members after checking no login or RPPS is taken (RosterError, nothing written), in
    transactions of `batch` rows each, so that the import never holds the database for long.

    Each member without a password is invited to choose theirs (SMS, else mail), with no password hash meanwhile:
    `by` and `public_url` are then required. A login or RPPS taken by someone else while the import runs stops it
    at that batch (RosterError, its `added` the members committed before).
    """
    errors = _roster_clashes(community, members)
    if errors:
        raise RosterError(errors)
    community_id, community_name = community.id, community.name
    by_id = by.id if by is not None else None
    db.session.commit()  # the checks' read transaction ends: each batch is a short transaction of its own
    added: list[tuple[User, Physician | None]] = []
    for first in range(0, len(members), batch):
        chunk = members[first : first + batch]
        started = time.monotonic()  # a duration, not a date: the clock passed in says what time it is
        try:
            done = _import_batch(
                community_id=community_id,
                community_name=community_name,
                members=chunk,
                now=now,
                ph=ph,
                by_id=by_id,
                public_url=public_url,
            )
        except IntegrityError:
            db.session.rollback()
            community_now = db.session.get(Community, community_id)
            assert community_now is not None
            late = _roster_clashes(community_now, chunk) or {index: LOGIN_TAKEN[1] for index in range(len(chunk))}
            raise RosterError({first + index: message for index, message in late.items()}, added) from None
        added += done
        if db.engine.dialect.name == "sqlite":  # PostgreSQL locks rows, not the database: nothing to wait for
            time.sleep(min(time.monotonic() - started, IMPORT_PAUSE_MAX_S))
    return added


def _import_batch(
    *,
    community_id: int,
    community_name: str,
    members: list[dict[str, Any]],
    now: datetime,
    ph: PasswordHasher,
    by_id: int | None,
    public_url: str | None,
) -> list[tuple[User, Physician | None]]:
    """Write one batch of a roster's members and their invitations, and commit."""
    community = db.session.get(Community, community_id)
    by = db.session.get(User, by_id) if by_id is not None else None
    assert community is not None
    added = []
    for member in members:
        fields = {"email": None, "phone": None, "rpps": None, "kind": None, "mssante": None, "address": None, **member}
        invite = fields.pop("invite", None)
        fields.setdefault("password", None)
        user, physician = _new_member(community=community, now=now, ph=ph, **fields)
        if fields["password"] is None:
            assert by is not None and public_url is not None, "an invitation needs who sends it and the service's address"
            accounts.start_invitation(user=user, by=by, community=community_name, now=now, public_url=public_url, channel=invite)
        added.append((user, physician))
    db.session.commit()
    return added
