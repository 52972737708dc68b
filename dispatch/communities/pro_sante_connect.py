"""Signing in with Pro Santé Connect: the RPPS the national sign-in vouches for, matched to an active physician."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from dispatch.auth import service as auth
from dispatch.auth.models import User
from dispatch.communities.models import Physician
from dispatch.db import db

SESSION_MAX_S = 4 * 3600  # a session opened by Pro Santé Connect lasts at most 4 hours
RPPS_PREFIX = "8"  # SubjectNameID: "8" then the 11 digits of the RPPS (an ADELI number has another prefix)


class UnknownProfessional(Exception):
    """The identifier is no RPPS, or no active physician of the service has it: nobody is signed in, nothing made."""


def sign_in_with_psc(
    *, subject_name_id: str, address: str | None, client: str | None, now: datetime, limits: auth.SignInLimits
) -> auth.Session:
    """Open a pages' session (4 h at most) for the active physician whose RPPS Pro Santé Connect vouched for.

    No account is created by signing in: an RPPS that no active physician of the service holds is refused.
    """
    rpps = subject_name_id[len(RPPS_PREFIX) :] if subject_name_id.startswith(RPPS_PREFIX) else ""
    if len(rpps) != 11 or not rpps.isdigit():
        raise UnknownProfessional()
    user = db.session.scalar(
        select(User)
        .join(Physician, Physician.user_id == User.id)
        .where(Physician.rpps == rpps, User.role == "physician", User.active.is_(True))
    )
    if user is None:
        raise UnknownProfessional()
    return auth.open_strong_session(user=user, address=address, client=client, now=now, limits=limits, max_s=SESSION_MAX_S)
