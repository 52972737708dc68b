"""Use cases of one's account: change one's password, sign out everywhere; links to choose a password (reset, invitation)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import marshmallow as ma
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from dispatch import texts
from dispatch.auth import trail
from dispatch.auth.models import PasswordReset, Token, User
from dispatch.auth.service import (
    SignInLimits,
    TooManyAttempts,
    check_password,
    create_user,
    forget_failures,
    password_attempt_delay,
    record_failure,
    token_digest,
)
from dispatch.db import db
from dispatch.gsm7 import to_gsm7
from dispatch.notify.outbox import enqueue
from dispatch.phones import is_mobile, normalize_phone

RESET_TTL = timedelta(hours=24)
RESET_PATH = "/reinitialisation/"
INVITATION_TTL = timedelta(days=7)
INVITATION_PATH = "/definir-mot-de-passe/"


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
INVITATION_KIND = "invitation"  # likewise
RESET_CHANNELS = ("sms", "mail")
RESET_SUBJECT = "SNP Dispatch : réinitialisation de votre mot de passe"


def revoke_tokens(*, user_id: int, now: datetime, keep: str | None = None) -> int:
    """Revoke every live token of a user (API bearers and pages' sessions) but `keep`; the caller commits."""
    query = update(Token).where(Token.user_id == user_id, Token.revoked_at.is_(None))
    if keep:
        query = query.where(Token.token_hash != token_digest(keep))
    return db.session.execute(query.values(revoked_at=now)).rowcount or 0  # type: ignore[attr-defined]


def change_password(
    *,
    user: User,
    current: str,
    new: str,
    ph: PasswordHasher,
    now: datetime,
    keep: str | None,
    address: str | None,
    limits: SignInLimits,
) -> None:
    """Change one's own password after checking the current one; every other session is signed out; commit.

    Checking the current password is throttled as a sign-in is, failures counted with the sign-in's (a stolen session
    must not try passwords faster than the sign-in page): TooManyAttempts while its delay runs.
    """
    wait = password_attempt_delay(login=user.login, address=address, now=now, limits=limits)
    if wait > 0:
        raise TooManyAttempts(retry_after=wait)
    if not check_password(user, current, ph):
        record_failure(login=user.login, address=address, now=now)
        db.session.commit()
        raise WrongPassword()
    forget_failures(login=user.login, address=address)
    user.password_hash = ph.hash(new)
    user.password_set_at = now
    revoke_tokens(user_id=user.id, now=now, keep=keep)
    cancel_links(user_id=user.id, now=now)  # a link sent before the holder chose this password dies with the old one
    trail.note(user_id=user.id, by=user, at=now, action="password_changed")
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


def reset_texts(*, name: str, link: str, self_service: bool = False) -> tuple[str, str]:
    """Return the SMS text and the mail's text that carry a reset link, asked by a coordinator or from the sign-in page."""
    if self_service:
        sms = f"SNP Dispatch : vous avez demandé un nouveau mot de passe (lien valable 24 h, une seule fois) : {link}"
        why = "Un nouveau mot de passe SNP Dispatch a été demandé pour votre compte depuis la page de connexion.\n"
        unasked = "Si vous n'avez rien demandé, ignorez ce message : votre mot de passe actuel reste valable.\n\n"
    else:
        sms = f"SNP Dispatch : choisissez votre nouveau mot de passe (lien valable 24 h, une seule fois) : {link}"
        why = "Le coordinateur de votre communauté a demandé la réinitialisation de votre mot de passe SNP Dispatch.\n"
        unasked = (
            "Si vous n'attendiez pas ce message, ignorez-le et prévenez votre coordinateur : "
            "votre mot de passe actuel reste valable tant que le lien n'est pas utilisé.\n\n"
        )
    mail = (
        f"Bonjour {name},\n\n{why}"
        "Pour choisir un nouveau mot de passe, ouvrez ce lien (valable 24 heures, utilisable une seule fois) :\n\n"
        f"{link}\n\n{unasked}SNP Dispatch\n"
    )
    return sms, mail


def start_reset(*, user: User, by: User | None, now: datetime, public_url: str, channel: str | None = None) -> PasswordReset:
    """Send the member a single-use link to choose a new password, by SMS or mail; earlier links stop working; commit.

    `by` is the coordinator who asked, or None when the member asked from the sign-in page. Only a hash of the link's
    secret is kept; the outbox holds the link until the message is sent (then blanked).
    """
    channel = reset_channel(user, channel)
    reset, link = _new_link(user=user, by=by, now=now, purpose="reset", path=RESET_PATH, public_url=public_url)
    sms, mail = reset_texts(name=user.name, link=link, self_service=by is None)
    payload = {"body": sms, "link": link} if channel == "sms" else {"subject": RESET_SUBJECT, "body": mail, "link": link}
    _send(user=user, channel=channel, kind=RESET_KIND, key=f"password-reset-{reset.id}", now=now, payload=payload)
    _note_link(user=user, by=by, now=now, purpose="reset", channel=channel)
    db.session.commit()
    return reset


# Links are rationed where they are made, by one function (ration_link): per member, one every few minutes and a few
# a day, whoever asks; per acting account, a cap per hour. A forgotten password's link, asked from the sign-in page
# by whoever types a login, has a ration of its own (and the page answers the same whether a link went or not).
@dataclass(frozen=True)
class Ration:
    every: timedelta  # at least this long between two links to one member
    per_day: int  # at most this many links to one member in 24 hours
    per_hour: int | None = None  # at most this many links made by one acting account in an hour


MEMBER_LINKS = Ration(every=timedelta(minutes=5), per_day=3, per_hour=20)
FORGOTTEN = Ration(every=timedelta(minutes=10), per_day=3)
FORGOTTEN_EVERY = FORGOTTEN.every
FORGOTTEN_PER_DAY = FORGOTTEN.per_day


class Rationed(Exception):
    """A link refused by its ration: `code` and `detail` (French) as the API answers them (429), and `retry_after`
    the seconds after which it would be made."""

    def __init__(self, code: str, detail: str, retry_after: int) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


def _minutes(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    if minutes < 120:
        return f"{minutes}\u00a0min"
    return f"{-(-minutes // 60)}\u00a0h"


def ration_link(*, user_id: int | None, by: User | None, now: datetime, ration: Ration = MEMBER_LINKS) -> None:
    """Raise Rationed if a link to this member (None: an account being created), made by `by` (None: the holder
    from the sign-in page), would exceed `ration`; count every link made, whatever its purpose and whoever asked."""
    if user_id is not None:
        sent = sorted(
            db.session.scalars(
                select(PasswordReset.created_at).where(
                    PasswordReset.user_id == user_id, PasswordReset.created_at > now - timedelta(days=1)
                )
            )
        )
        if sent and sent[-1] > now - ration.every:
            wait = _seconds(sent[-1] + ration.every - now)
            raise Rationed(
                "link_too_soon",
                f"Un lien vient d'être envoyé à ce membre\u00a0: un autre pourra partir dans {_minutes(wait)}.",
                wait,
            )
        if len(sent) >= ration.per_day:
            wait = _seconds(sent[len(sent) - ration.per_day] + timedelta(days=1) - now)
            raise Rationed(
                "member_links_per_day",
                f"Ce membre a déjà reçu {ration.per_day} liens en 24\u00a0heures\u00a0: un autre pourra partir dans "
                f"{_minutes(wait)}. Vérifiez avec lui son numéro ou son adresse.",
                wait,
            )
    if ration.per_hour is not None and by is not None:
        made = sorted(
            db.session.scalars(
                select(PasswordReset.created_at).where(
                    PasswordReset.created_by_id == by.id, PasswordReset.created_at > now - timedelta(hours=1)
                )
            )
        )
        if len(made) >= ration.per_hour:
            wait = _seconds(made[len(made) - ration.per_hour] + timedelta(hours=1) - now)
            raise Rationed(
                "links_per_hour",
                f"Vous avez envoyé {ration.per_hour} liens de mot de passe ou d'invitation en une heure\u00a0: "
                f"réessayez dans {_minutes(wait)}.",
                wait,
            )


def _seconds(delta: timedelta) -> int:
    return max(1, int(-(-delta.total_seconds() // 1)))


def forgot_password(*, login: str, now: datetime, public_url: str) -> bool:
    """Send the account named `login` a link to choose a new password, by SMS (else mail), within its ration; commit.

    Return whether a link went (the page says the same either way): none for an unknown, inactive or unreachable
    account, nor within 10 minutes of the last link it was sent, nor past 3 in 24 hours (ration_link, FORGOTTEN).
    """
    user = db.session.scalar(select(User).where(func.lower(User.login) == login.strip().lower(), User.active.is_(True)))
    if user is None or not (user.phone or user.email):
        return False
    try:
        ration_link(user_id=user.id, by=None, now=now, ration=FORGOTTEN)
    except Rationed:
        return False
    start_reset(user=user, by=None, now=now, public_url=public_url)
    return True


def _new_link(*, user: User, by: User | None, now: datetime, purpose: str, path: str, public_url: str) -> tuple[PasswordReset, str]:
    """Add a link of this purpose for the user, every earlier unused one of theirs used up; return it and its URL."""
    cancel_links(user_id=user.id, now=now)
    secret = secrets.token_urlsafe(32)
    ttl = INVITATION_TTL if purpose == "invitation" else RESET_TTL
    reset = PasswordReset(
        user_id=user.id,
        token_hash=token_digest(secret),
        created_by_id=by.id if by is not None else None,
        created_at=now,
        expires_at=now + ttl,
        purpose=purpose,
    )
    db.session.add(reset)
    db.session.flush()
    return reset, public_url.rstrip("/") + path + secret


def _send(*, user: User, channel: str, kind: str, key: str, now: datetime, payload: dict[str, str]) -> None:
    enqueue(channel=channel, kind=kind, key=key, now=now, address=user.phone if channel == "sms" else user.email, payload=payload)


def _note_link(*, user: User, by: User | None, now: datetime, purpose: str, channel: str) -> None:
    to = user.phone if channel == "sms" else user.email
    trail.note(user_id=user.id, by=by, at=now, action="link", data={"purpose": purpose, "channel": channel, "to": to})


CONTACT_WORDS = {
    "phone": ("le numéro de portable", "changé"),
    "email": ("l'adresse email", "changée"),
    "mssante": ("l'adresse de messagerie sécurisée (MSSanté)", "changée"),
}
CONTACT_SUBJECT = "SNP Dispatch : les coordonnées de votre compte ont changé"


def contact_changed_texts(*, user: User, field: str, by: User | None, at: datetime, timezone: str) -> tuple[str, str]:
    """Return the SMS and the mail's text telling an account's previous contact that it was replaced (no patient data)."""
    what, changed = CONTACT_WORDS[field]
    when = texts.local(at, timezone).strftime("le %d/%m/%Y à %H:%M")
    if by is None or by.id == user.id:
        who = "depuis votre compte"
    elif by.role == "admin":
        who = "par l'administrateur de SNP Dispatch"
    else:
        who = "par la coordination de votre CPTS"
    sms = to_gsm7(
        f"SNP Dispatch : {what} de votre compte {user.login} a été {changed} {when} {who}. Ce contact ne recevra plus "
        "de lien de mot de passe. Si vous n'êtes pas à l'origine de ce changement, prévenez la coordination de votre CPTS."
    )
    mail = (
        f"Bonjour {user.name},\n\n"
        f"{what[0].upper()}{what[1:]} de votre compte SNP Dispatch ({user.login}) a été {changed} {when} {who}.\n"
        "Cette adresse ne recevra plus de lien pour choisir un mot de passe, et les liens déjà envoyés ne sont plus "
        "valables.\n\n"
        "Si vous n'êtes pas à l'origine de ce changement, prévenez sans attendre la coordination de votre CPTS ou "
        "l'administrateur de SNP Dispatch.\n\nSNP Dispatch\n"
    )
    return sms, mail


def tell_previous_contact(*, user: User, field: str, before: str, by: User | None, now: datetime, timezone: str, key: str) -> None:
    """Queue, in the caller's transaction, the message telling an account's replaced contact (`before`) of the change:
    an SMS to the previous mobile, a mail to the previous email or MSSanté address."""
    sms, mail = contact_changed_texts(user=user, field=field, by=by, at=now, timezone=timezone)
    if field == "phone":
        enqueue(channel="sms", kind="contact_changed", key=key, now=now, address=before, payload={"body": sms})
    else:
        payload = {"subject": CONTACT_SUBJECT, "body": mail}
        enqueue(channel="mail", kind="contact_changed", key=key, now=now, address=before, payload=payload)


def cancel_links(*, user_id: int, now: datetime) -> None:
    """Use up every unused reset or invitation link of a user (a newer one replaces them, or the account closes)."""
    db.session.execute(
        update(PasswordReset).where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None)).values(used_at=now)
    )


def invitation_texts(*, name: str, login: str, community: str | None, link: str, public_url: str) -> tuple[str, str, str]:
    """Return the SMS text, the mail's subject and the mail's text of an invitation to choose one's password.

    `community` is the one that opened the account; None for an account of the platform (the command line's admin).
    """
    opened = f"{community} vous a ouvert un compte" if community else "un compte vous a été ouvert"
    sms = to_gsm7(
        f"SNP Dispatch\u202f: {opened}. Identifiant\u202f: {login}. "
        f"Choisissez votre mot de passe (lien valable 7 jours, une seule fois)\u202f: {link}"
    )
    subject = f"SNP Dispatch\u202f: votre compte de {community}" if community else "SNP Dispatch\u202f: votre compte"
    by = f"La coordination de {community} vous a ouvert un compte" if community else "Un compte d'administrateur vous a été ouvert"
    warn = "prévenez la coordination de votre CPTS" if community else "prévenez l'équipe qui exploite SNP Dispatch"
    mail = (
        f"Bonjour {name},\n\n"
        f"{by} sur SNP Dispatch, le service qui transmet "
        "les demandes de soins non programmés de la CPTS.\n\n"
        f"Votre identifiant\u202f: {login}\n\n"
        "Pour choisir votre mot de passe, ouvrez ce lien (valable 7 jours, utilisable une seule fois)\u202f:\n\n"
        f"{link}\n\n"
        f"Vous vous connecterez ensuite sur {public_url.rstrip('/')}/connexion avec cet identifiant.\n"
        f"Si vous n'attendiez pas ce message, ignorez-le et {warn}.\n\n"
        "SNP Dispatch\n"
    )
    return sms, subject, mail


def start_invitation(
    *, user: User, by: User | None, community: str | None, now: datetime, public_url: str, channel: str | None = None
) -> tuple[PasswordReset, str]:
    """Send a new member a single-use link, valid 7 days, to choose their password (SMS or mail); return it and the channel.

    Earlier links stop working; the caller commits (with the account, when it is created with it).
    """
    channel = reset_channel(user, channel)
    invitation, link = _new_link(user=user, by=by, now=now, purpose="invitation", path=INVITATION_PATH, public_url=public_url)
    sms, subject, mail = invitation_texts(name=user.name, login=user.login, community=community, link=link, public_url=public_url)
    payload = {"body": sms, "link": link} if channel == "sms" else {"subject": subject, "body": mail, "link": link}
    _send(user=user, channel=channel, kind=INVITATION_KIND, key=invitation_key(invitation.id), now=now, payload=payload)
    _note_link(user=user, by=by, now=now, purpose="invitation", channel=channel)
    return invitation, channel


def create_invited(
    *,
    login: str,
    password: str | None,
    invite: str | None,
    name: str,
    role: str,
    email: str | None,
    phone: str | None,
    now: datetime,
    ph: PasswordHasher,
    public_url: str,
) -> str | None:
    """Create an account of the platform (no community) with its password or an invitation to choose one; commit.

    Return where the invitation goes (the mobile number or the address), None with a password. ValueError, in
    French, when the login is taken or a contact is missing or invalid.
    """
    if db.session.scalar(select(User.id).where(User.login == login)) is not None:
        raise ValueError(f"L'identifiant {login} existe déjà.")
    if phone is not None:
        try:
            phone = normalize_phone(phone)
        except ValueError:
            raise ValueError("Numéro de téléphone invalide.") from None
    if email is not None:
        try:
            ma.validate.Email()(email)
        except ma.ValidationError:
            raise ValueError("Adresse email invalide.") from None
    if invite == "sms" and (phone is None or not is_mobile(phone)):
        raise ValueError("Un numéro de portable (--phone) est nécessaire pour inviter par SMS.")
    if invite == "mail" and email is None:
        raise ValueError("Une adresse email (--email) est nécessaire pour inviter par mail.")
    user = create_user(login=login, password=password, name=name, role=role, now=now, ph=ph, email=email, phone=phone)
    if invite is not None:
        start_invitation(user=user, by=None, community=None, now=now, public_url=public_url, channel=invite)
    db.session.commit()
    return None if invite is None else phone if invite == "sms" else email


def invitation_key(invitation_id: int) -> str:
    """Return the outbox key of an invitation's message (to tell whether it was sent)."""
    return f"invitation-{invitation_id}"


def latest_invitations(user_ids: list[int]) -> dict[int, PasswordReset]:
    """Return the latest invitation of each of these users that has one."""
    if not user_ids:
        return {}
    query = (
        select(PasswordReset)
        .where(PasswordReset.user_id.in_(user_ids), PasswordReset.purpose == "invitation")
        .order_by(PasswordReset.id)
    )
    return {invitation.user_id: invitation for invitation in db.session.scalars(query)}


def usable_reset(*, secret: str, now: datetime) -> PasswordReset:
    """Return the reset of this link if it can still be used, else raise ResetUnusable."""
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_digest(secret)))
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        raise ResetUnusable()
    user = db.session.get(User, reset.user_id)
    if user is None or not user.active:
        raise ResetUnusable()
    if user.password_set_at is not None and user.password_set_at > reset.created_at:
        raise ResetUnusable()  # the holder chose a password since: the link died with the old one
    return reset


def finish_reset(*, secret: str, new: str, ph: PasswordHasher, now: datetime) -> User:
    """Set the new password chosen through a reset link, which is then used up; every session is signed out; commit."""
    reset = usable_reset(secret=secret, now=now)
    user = db.session.get(User, reset.user_id)
    assert user is not None  # checked by usable_reset
    user.password_hash = ph.hash(new)
    user.password_set_at = now
    reset.used_at = now
    revoke_tokens(user_id=user.id, now=now)
    trail.note(user_id=user.id, by=None, at=now, action="password_changed", data={"purpose": reset.purpose})
    db.session.commit()
    return user
