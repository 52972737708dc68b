"""Use cases of a community's members after they join: list them with their invitation, edit, reactivate, invite,
and keep the result of a roster import."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from dispatch.auth import accounts, trail
from dispatch.auth.models import Membership, PasswordReset, User
from dispatch.communities import placing
from dispatch.communities.membership import CONTACT_FIELDS, check_contacts, check_standing, member_of
from dispatch.communities.models import Community, MemberImport, Physician, Requester
from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from dispatch.professions import role_of

IMPORT_KEPT = timedelta(days=7)  # how long the result of a roster import can be shown again
USER_FIELDS = ("name", "email", "phone")
PHYSICIAN_FIELDS = ("kind", "mssante", "address", "practice_phone", "lat", "lon")


class Invalid(Exception):
    """A change that the member's record refuses (a physician's field on another role); `errors` per field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid member change")
        self.errors = errors


class Refused(Exception):
    """An action the member's state forbids; `code` and `detail` as the API answers them (409)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


INACTIVE = ("member_inactive", "Ce compte est désactivé\u00a0: réactivez-le d'abord.")
PASSWORD_SET = (
    "password_set",
    "Ce membre a déjà choisi son mot de passe\u00a0: envoyez-lui plutôt un lien de réinitialisation.",
)


def invitation_state(invitation: PasswordReset, user: User, message: OutboxMessage | None, now: datetime) -> dict[str, Any]:
    """Describe what became of an invitation: sending, sent, failed, expired, accepted or cancelled."""
    if invitation.used_at is not None:
        accepted = user.password_set_at is not None and user.password_set_at >= invitation.created_at
        status = "accepted" if accepted else "cancelled"
    elif invitation.expires_at <= now:
        status = "expired"
    elif message is not None and (
        message.status in ("failed", "over_budget") or message.provider_status in ("undelivered", "failed")
    ):
        status = "failed"
    elif message is not None and message.status == "sent":
        status = "sent"
    else:
        status = "sending"
    return {
        "status": status,
        "channel": message.channel if message is not None else None,
        "created_at": invitation.created_at,
        "sent_at": message.sent_at if message is not None else None,
        "expires_at": invitation.expires_at,
    }


def member_rows(rows: list[tuple[User, str, Physician | None]], now: datetime) -> list[dict[str, Any]]:
    """Return the members of (user, role, physician) rows as the API answers them, with their latest invitation."""
    invitations = accounts.latest_invitations([user.id for user, _role, _physician in rows])
    keys = {accounts.invitation_key(invitation.id): user_id for user_id, invitation in invitations.items()}
    messages = (
        {
            keys[m.idempotency_key]: m
            for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.in_(keys)))
        }
        if keys
        else {}
    )
    requesters = {
        r.user_id: r
        for r in db.session.scalars(
            select(Requester).where(Requester.user_id.in_([u.id for u, role, _p in rows if role == "requester"]))
        )
    }
    out = []
    for user, role, physician in rows:
        invitation = invitations.get(user.id)
        requester = requesters.get(user.id)
        out.append(
            {
                "id": user.id,
                "user_id": user.id,
                "login": user.login,
                "name": user.name,
                "role": role_of(role, physician.profession if physician is not None else None),
                "email": user.email,
                "phone": user.phone,
                "active": user.active,
                "pending": user.password_set_at is None,
                "invitation": None if invitation is None else invitation_state(invitation, user, messages.get(user.id), now),
                "physician": None
                if physician is None
                else {
                    "id": physician.id,
                    "profession": physician.profession,
                    "rpps": physician.rpps,
                    "kind": physician.kind,
                    "mssante": physician.mssante,
                    "address": physician.address,
                    "practice_phone": physician.practice_phone,
                    "lat": physician.lat,
                    "lon": physician.lon,
                    "available": physician.is_available(now),
                },
                "requester": None
                if requester is None
                else {"profession": requester.profession, "rpps": requester.rpps, "finess": requester.finess},
            }
        )
    return out


def members_query(community_id: int) -> Any:
    """Return the query of a community's (user, role, physician) rows, to be ordered and paged by the caller."""
    return (
        select(User, Membership.role, Physician)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(Physician, Physician.user_id == User.id)
        .where(Membership.community_id == community_id)
    )


def list_members(*, community: Community, now: datetime) -> list[dict[str, Any]]:
    """Return every member of the community, the active ones first, by name."""
    query = members_query(community.id).order_by(User.active.desc(), User.name, User.id)
    return member_rows([(u, role, p) for u, role, p in db.session.execute(query)], now)


def one_member(*, community: Community, user_id: int, now: datetime) -> dict[str, Any]:
    """Return one member of the community as the API answers it; LookupError if not one of its members."""
    row = db.session.execute(members_query(community.id).where(User.id == user_id)).first()
    if row is None:
        raise LookupError(user_id)
    return member_rows([(row[0], row[1], row[2])], now)[0]


def _member(community: Community, user_id: int) -> tuple[User, Physician | None]:
    user = member_of(community=community, user_id=user_id)
    if user is None:
        raise LookupError(user_id)
    return user, db.session.scalar(select(Physician).where(Physician.user_id == user.id))


def update_member(*, community: Community, user_id: int, changes: dict[str, Any], by: User, now: datetime) -> User:
    """Change a member's name, contacts and, for a physician, kind, MSSanté address and practice; commit.

    The RPPS, the login and the role never change here. LookupError if not a member; membership.Forbidden if `by`
    may not change these contacts (check_contacts) or rename this member (check_standing); Invalid for a
    physician's field on an account that is not a physician's. Each field changed is a line of the account's trail;
    a replaced contact is told of the change, and a phone or email changed kills the links already sent.
    """
    user, physician = _member(community, user_id)
    before: dict[str, Any] = {field: getattr(user, field) for field in USER_FIELDS}
    if physician is not None:
        before.update({field: getattr(physician, field) for field in PHYSICIAN_FIELDS})
    changed = {field for field, value in changes.items() if field in before and value != before[field]}
    if physician is not None and "kind" in changed and not changes["kind"]:
        changed.discard("kind")  # a physician always has a kind: a blank one leaves it as it was
    if changed & set(CONTACT_FIELDS):
        check_contacts(by=by, community=community, user=user)
    if "name" in changed:
        check_standing(by=by, community=community, user=user)
    errors: dict[str, list[str]] = {}
    if "name" in changes and not changes["name"]:
        errors["name"] = ["Le nom est obligatoire."]
    if physician is None:
        for field in PHYSICIAN_FIELDS:
            if changes.get(field) is not None:
                errors[field] = ["Réservé aux médecins\u00a0: ce membre n'en est pas un."]
    if errors:
        raise Invalid(errors)
    for field in (*USER_FIELDS, *PHYSICIAN_FIELDS):
        if field not in changed:
            continue
        setattr(user if field in USER_FIELDS else physician, field, changes[field])
        event = trail.note_edit(user_id=user.id, by=by, at=now, field=field, before=before[field], after=changes[field])
        if field in CONTACT_FIELDS and before[field]:
            db.session.flush()  # the trail's line names the notice
            accounts.tell_previous_contact(
                user=user,
                field=field,
                before=before[field],
                by=by,
                now=now,
                timezone=community.timezone,
                key=f"contact-changed-{event.id}",
            )
    if changed & {"phone", "email"}:
        accounts.cancel_links(user_id=user.id, now=now)  # a link sent to the contact replaced dies with it
    if physician is not None and "address" in changed and "lat" not in changes and "lon" not in changes:
        physician.lat = physician.lon = None  # the old place is the old address's
        placing.place_practice(physician, now=now)
    db.session.commit()
    return user


def reactivate_member(*, community: Community, user_id: int, by: User, now: datetime) -> User:
    """Let a deactivated member sign in and get offers again (with a new sign-in: their old tokens stay revoked).

    LookupError if not a member; membership.Forbidden if `by` may not (check_standing).
    """
    user, _physician = _member(community, user_id)
    check_standing(by=by, community=community, user=user)
    if not user.active:
        trail.note(user_id=user.id, by=by, at=now, action="reactivated")
    user.active = True
    db.session.commit()
    return user


def invite_member(
    *, community: Community, user_id: int, by: User, now: datetime, public_url: str, channel: str | None = None
) -> tuple[PasswordReset, str]:
    """(Re)send an invited member their link to choose a password; earlier links stop working; commit.

    LookupError if not a member; membership.Forbidden if `by` may not send them a link (check_contacts); Refused if
    deactivated or if they already chose their password; accounts.Rationed past the links' ration; NoPhone if they
    have no address on the channel.
    """
    user, _physician = _member(community, user_id)
    check_contacts(by=by, community=community, user=user)
    if not user.active:
        raise Refused(*INACTIVE)
    if user.password_set_at is not None:
        raise Refused(*PASSWORD_SET)
    accounts.reset_channel(user, channel)  # NoPhone before the ration counts anything
    accounts.ration_link(user_id=user.id, by=by, now=now)
    invitation, sent_by = accounts.start_invitation(
        user=user, by=by, community=community.name, now=now, public_url=public_url, channel=channel
    )
    db.session.commit()
    return invitation, sent_by


def reset_member(
    *, community: Community, user_id: int, by: User, now: datetime, public_url: str, channel: str | None = None
) -> tuple[PasswordReset, str]:
    """Send a member a single-use link, valid 24 h, to choose a new password (SMS or mail); earlier links stop
    working; commit; return it and its channel.

    LookupError if not an active member; membership.Forbidden if `by` may not send them a link (check_contacts);
    accounts.Rationed past the links' ration; NoPhone if they have no address on the channel.
    """
    user, _physician = _member(community, user_id)
    if not user.active:
        raise LookupError(user_id)
    check_contacts(by=by, community=community, user=user)
    sent_by = accounts.reset_channel(user, channel)
    accounts.ration_link(user_id=user.id, by=by, now=now)
    return accounts.start_reset(user=user, by=by, now=now, public_url=public_url, channel=sent_by), sent_by


def record_import(*, community: Community, by: User, now: datetime, filename: str | None, result: dict[str, Any]) -> MemberImport:
    """Keep the result of a roster import to show it after the redirect; results older than a week go; commit."""
    db.session.execute(
        delete(MemberImport).where(MemberImport.community_id == community.id, MemberImport.created_at < now - IMPORT_KEPT)
    )
    record = MemberImport(
        community_id=community.id, created_by_id=by.id, created_at=now, filename=(filename or "")[:200] or None, result=result
    )
    db.session.add(record)
    db.session.commit()
    return record


def import_result(*, import_id: int, community: Community, by: User) -> MemberImport | None:
    """Return the result of an import of the community made by this user (nobody else's), if still kept."""
    record = db.session.get(MemberImport, import_id)
    if record is None or record.community_id != community.id or record.created_by_id != by.id:
        return None
    return record
