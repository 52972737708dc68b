"""The second factor of the accounts that manage others: TOTP (RFC 6238) and single-use recovery codes.

Required in production of the admin and coordinators, and of the operators of a community that asks for it; an
account that enrolled always gives its code, in any mode. A code is accepted once: the time step of the last one
accepted is kept, and a code of the same step or an earlier one is refused (a conditional update, so that two
sign-ins racing with one code cannot both pass). Recovery codes stand for the phone when it is lost; only their
hashes are kept, each is used up by one sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import column, delete, func, or_, select, table, update

from dispatch.auth.models import RecoveryCode, User
from dispatch.db import db

ISSUER = "SNP Dispatch"
MANAGING_ROLES = ("admin", "coordinator")  # they manage other accounts: the second factor is theirs in production
RECOVERY_COUNT = 10
# Recovery codes are typed from paper: lower-case letters and digits, none a reader mistakes for another.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 10
DRIFT_STEPS = 1  # a code of the step before or after now is accepted too (a phone's clock a little off)

# The communities' and memberships' tables, named here without importing their package (which imports this one's).
_communities = table("communities", column("id"), column("totp_operators"))
_memberships = table("memberships", column("user_id"), column("community_id"), column("role"))


class NotEnrolling(Exception):
    """No enrolment was started for this account, or it is already enrolled."""


def enrolled(user: User) -> bool:
    """Tell whether the account confirmed a second factor."""
    return user.totp_enrolled_at is not None and bool(user.totp_secret)


def required(*, user: User, production: bool) -> bool:
    """Tell whether signing in to this account needs the second factor: always once enrolled, and when asked of it."""
    return enrolled(user) or asked(user=user, production=production)


def asked(*, user: User, production: bool) -> bool:
    """Tell whether the service asks this account for a second factor, enrolled or not: in production only, of the
    admin and coordinators, and of an operator of a community that asks its operators for it."""
    if not production:
        return False
    if user.role in MANAGING_ROLES:
        return True
    if user.role != "operator":
        return False
    query = (
        select(func.count())
        .select_from(_memberships.join(_communities, _communities.c.id == _memberships.c.community_id))
        .where(_memberships.c.user_id == user.id, _memberships.c.role == "operator", _communities.c.totp_operators.is_(True))
    )
    return bool(db.session.scalar(query))


def provisioning_uri(user: User) -> str:
    """Return the otpauth:// address an authenticator app reads from the QR code."""
    assert user.totp_secret is not None
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.login, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """Return the QR code of `uri` as an inline SVG element (made here: no network, no image to fetch)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#111", light="#fff", title="Code QR"))


def start_enrolment(*, user: User) -> str:
    """Give a not-yet-enrolled account a new secret (kept until it is confirmed, so a reload shows the same code);
    commit; return the secret."""
    if enrolled(user):
        raise NotEnrolling()
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
        user.totp_last_step = None
        db.session.commit()
    return user.totp_secret


def _normalized(code: str) -> str:
    return "".join(c for c in code if not c.isspace() and c != "-").lower()


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """Return the time step whose TOTP is `code`, within the drift allowed around `now`, or None."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _take_step(user: User, step: int) -> bool:
    """Record `step` as the last accepted if it is later than the last one; tell whether it was (no replay)."""
    done = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return (done.rowcount or 0) == 1  # type: ignore[attr-defined]


def recovery_digest(code: str) -> str:
    """Return the stored form of a recovery code."""
    return hashlib.sha256(_normalized(code).encode()).hexdigest()


def verify(*, user: User, code: str, now: datetime) -> bool:
    """Check a TOTP code (6 digits) or a recovery code of an enrolled account; use it up; the caller commits.

    A TOTP code already accepted (or one of an earlier step) is refused; a recovery code is used once.
    """
    code = _normalized(code)[:64]
    if not enrolled(user) or not code:
        return False
    assert user.totp_secret is not None
    if code.isdigit():
        step = _matching_step(user.totp_secret, code, now) if len(code) == 6 else None
        return step is not None and _take_step(user, step)
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == recovery_digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return (used.rowcount or 0) == 1  # type: ignore[attr-defined]


def _new_recovery_codes(*, user: User, now: datetime) -> list[str]:
    """Replace the account's recovery codes with new ones; return them (shown once, only their hashes kept)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=recovery_digest(raw), created_at=now))
    return codes


def confirm_enrolment(*, user: User, code: str, now: datetime) -> list[str] | None:
    """Enrol the account if `code` is the current TOTP of its new secret; commit; return its recovery codes (None:
    wrong code)."""
    if enrolled(user) or not user.totp_secret:
        raise NotEnrolling()
    step = _matching_step(user.totp_secret, _normalized(code)[:64], now)
    if step is None or not _take_step(user, step):
        db.session.commit()
        return None
    user.totp_enrolled_at = now
    codes = _new_recovery_codes(user=user, now=now)
    db.session.commit()
    return codes


def regenerate_recovery_codes(*, user: User, code: str, now: datetime) -> list[str] | None:
    """Replace the recovery codes of an enrolled account after checking its code; commit; return them (None: wrong)."""
    if not verify(user=user, code=code, now=now):
        db.session.commit()
        return None
    codes = _new_recovery_codes(user=user, now=now)
    db.session.commit()
    return codes


def disable(*, user: User, code: str, now: datetime) -> bool:
    """Turn the second factor off after checking a code; commit; tell whether it was."""
    if not verify(user=user, code=code, now=now):
        db.session.commit()
        return False
    user.totp_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.commit()
    return True


def recovery_left(user: User) -> int:
    """Return how many unused recovery codes the account has."""
    query = select(func.count()).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    return int(db.session.scalar(query) or 0)
