"""Use cases of one's account: change one's password, sign out everywhere, reset a member's password by a link."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

from dispatch.auth.models import PasswordReset, Token, User
from dispatch.auth.service import token_digest
from dispatch.db import db
from dispatch.notify.outbox import enqueue

RESET_TTL = timedelta(hours=24)
RESET_PATH = "/reinitialisation/"


class WrongPassword(Exception):
    """The current password given is not the user's."""


class ResetUnusable(Exception):
    """The reset link is unknown, used already, expired, or its account was deactivated."""


class NoPhone(Exception):
    """The member has no address on the channel asked for (mobile number for an SMS, email for a mail)."""

    def __init__(self, channel: str = "sms") -> None:
        super().__init__(channel)
        self.channel = channel


RESET_KIND = "password_reset"  # the outbox's kind: its link is blanked once sent (dispatch.delivery)
RESET_CHANNELS = ("sms", "mail")
RESET_SUBJECT = "SNP Dispatch : réinitialisation de votre mot de passe"


def revoke_tokens(*, user_id: int, now: datetime, keep: str | None = None) -> int:
    """Revoke every live token of a user (API bearers and pages' sessions) but `keep`; the caller commits."""
    query = update(Token).where(Token.user_id == user_id, Token.revoked_at.is_(None))
    if keep:
        query = query.where(Token.token_hash != token_digest(keep))
    return db.session.execute(query.values(revoked_at=now)).rowcount or 0  # type: ignore[attr-defined]


def change_password(*, user: User, current: str, new: str, ph: PasswordHasher, now: datetime, keep: str | None) -> None:
    """Change one's own password after checking the current one; every other session is signed out; commit."""
    try:
        ph.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise WrongPassword() from None
    user.password_hash = ph.hash(new)
    revoke_tokens(user_id=user.id, now=now, keep=keep)
    db.session.commit()


def sign_out_everywhere(*, user: User, now: datetime) -> int:
    """Revoke every token of the user, on every device and browser; commit; return how many."""
    count = revoke_tokens(user_id=user.id, now=now)
    db.session.commit()
    return count


def reset_channel(user: User, channel: str | None) -> str:
    """Return the channel a reset link goes by: the one asked for, else SMS if the member has a mobile, else mail."""
    if channel is None:
        channel = "sms" if user.phone or not user.email else "mail"
    if not (user.phone if channel == "sms" else user.email):
        raise NoPhone(channel)
    return channel


def reset_texts(*, name: str, link: str) -> tuple[str, str]:
    """Return the SMS text and the mail's text that carry a reset link."""
    sms = f"SNP Dispatch : choisissez votre nouveau mot de passe (lien valable 24 h, une seule fois) : {link}"
    mail = (
        f"Bonjour {name},\n\n"
        "Le coordinateur de votre communauté a demandé la réinitialisation de votre mot de passe SNP Dispatch.\n"
        "Pour choisir un nouveau mot de passe, ouvrez ce lien (valable 24 heures, utilisable une seule fois) :\n\n"
        f"{link}\n\n"
        "Si vous n'attendiez pas ce message, ignorez-le et prévenez votre coordinateur : "
        "votre mot de passe actuel reste valable tant que le lien n'est pas utilisé.\n\n"
        "SNP Dispatch\n"
    )
    return sms, mail


def start_reset(*, user: User, by: User, now: datetime, public_url: str, channel: str | None = None) -> PasswordReset:
    """Send the member a single-use link to choose a new password, by SMS or mail; earlier links stop working; commit.

    Only a hash of the link's secret is kept; the outbox holds the link until the message is sent (then blanked).
    """
    channel = reset_channel(user, channel)
    db.session.execute(
        update(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)).values(used_at=now)
    )
    secret = secrets.token_urlsafe(32)
    reset = PasswordReset(
        user_id=user.id, token_hash=token_digest(secret), created_by_id=by.id, created_at=now, expires_at=now + RESET_TTL
    )
    db.session.add(reset)
    db.session.flush()
    link = public_url.rstrip("/") + RESET_PATH + secret
    sms, mail = reset_texts(name=user.name, link=link)
    payload = {"body": sms, "link": link} if channel == "sms" else {"subject": RESET_SUBJECT, "body": mail, "link": link}
    enqueue(
        channel=channel,
        kind=RESET_KIND,
        key=f"password-reset-{reset.id}",
        now=now,
        address=user.phone if channel == "sms" else user.email,
        payload=payload,
    )
    db.session.commit()
    return reset


def usable_reset(*, secret: str, now: datetime) -> PasswordReset:
    """Return the reset of this link if it can still be used, else raise ResetUnusable."""
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_digest(secret)))
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        raise ResetUnusable()
    user = db.session.get(User, reset.user_id)
    if user is None or not user.active:
        raise ResetUnusable()
    return reset


def finish_reset(*, secret: str, new: str, ph: PasswordHasher, now: datetime) -> User:
    """Set the new password chosen through a reset link, which is then used up; every session is signed out; commit."""
    reset = usable_reset(secret=secret, now=now)
    user = db.session.get(User, reset.user_id)
    assert user is not None  # checked by usable_reset
    user.password_hash = ph.hash(new)
    reset.used_at = now
    revoke_tokens(user_id=user.id, now=now)
    db.session.commit()
    return user
