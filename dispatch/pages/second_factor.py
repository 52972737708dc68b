"""Pages of the second factor (TOTP): the sign-in's second step, enrolment with a QR code, recovery codes."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from config import settings
from dispatch.auth import second_factor
from dispatch.auth import service as auth
from dispatch.auth.models import User
from dispatch.db import db
from dispatch.pages import bp
from dispatch.pages.guard import PENDING_KEY, REMEMBER, open_page_session, signed_in, wait_words
from dispatch.web import client_label, now

PENDING_TTL_S = 300  # the second step must follow the password within 5 minutes
CODE_MAX = 32
WRONG_CODE = "Code incorrect ou déjà utilisé : attendez le code suivant de votre application, ou utilisez un code de secours."


def _pending() -> tuple[dict[str, Any], User] | None:
    """Return the sign-in waiting for its second factor and its account, if it is recent and the account active."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or not isinstance(pending.get("uid"), int) or not isinstance(pending.get("at"), int):
        return None
    started = datetime.fromtimestamp(pending["at"], tz=timezone.utc)
    if not 0 <= (now() - started).total_seconds() <= PENDING_TTL_S:
        return None
    user = db.session.get(User, pending["uid"])
    return (pending, user) if user is not None and user.active else None


def _enrolment_view(user: User, template: str, **context: Any) -> str:
    secret = second_factor.start_enrolment(user=user)
    uri = second_factor.provisioning_uri(user)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template(template, qr=second_factor.qr_svg(uri), secret=grouped, **context)


@bp.route("/connexion/code", methods=["GET", "POST"])
def sign_in_code() -> Any:
    """The sign-in's second step: the code of the account's authenticator app, or its enrolment when it has none."""
    found = _pending()
    if found is None:
        session.pop(PENDING_KEY, None)
        flash("La connexion a expiré : saisissez à nouveau votre identifiant et votre mot de passe.", "warn")
        return redirect(url_for("pages.sign_in"))
    pending, user = found
    enrolling = not second_factor.enrolled(user)
    if request.method == "GET":
        if enrolling:
            return _enrolment_view(user, "pages/sign_in_enrol.html", error=None)
        return render_template("pages/sign_in_code.html", error=None)
    code = request.form.get("totp", "")[:CODE_MAX]
    config = current_app.config
    limits = auth.SignInLimits.from_config(config)
    remember_s = int(REMEMBER.total_seconds()) if pending.get("remember") else None
    address, client, at = request.remote_addr, client_label(), now()
    if enrolling:
        codes = second_factor.confirm_enrolment(user=user, code=code, now=at)
        if codes is None:
            return _enrolment_view(user, "pages/sign_in_enrol.html", error=WRONG_CODE), 422
        result = auth.open_enrolled_session(
            user=user, address=address, client=client, now=at, limits=limits, scope="page", remember_s=remember_s
        )
        target = open_page_session(result, pending.get("next"))
        return render_template("pages/recovery_codes.html", codes=codes, target=target, first=True)
    try:
        result = auth.second_step(
            user_id=user.id, totp=code, address=address, client=client, now=at, limits=limits, remember_s=remember_s
        )
    except auth.TooManyAttempts as exc:
        error = f"Trop de tentatives de connexion : réessayez dans {wait_words(exc.retry_after)}."
        return render_template("pages/sign_in_code.html", error=error), 429
    except (auth.BadTotp, auth.TotpRequired):
        return render_template("pages/sign_in_code.html", error=WRONG_CODE), 401
    except auth.BadCredentials:
        session.pop(PENDING_KEY, None)
        return redirect(url_for("pages.sign_in"))
    return redirect(open_page_session(result, pending.get("next")))


def account_second_factor() -> dict[str, Any]:
    """Return what the account page shows of the signed-in user's second factor."""
    user = signed_in()
    production = settings.is_production(current_app.config)
    return {
        "enrolled": second_factor.enrolled(user),
        "asked": second_factor.asked(user=user, production=production),
        "recovery_left": second_factor.recovery_left(user) if second_factor.enrolled(user) else 0,
    }


@bp.route("/compte/double-authentification", methods=["GET", "POST"])
def account_totp() -> Any:
    """Enrol a second factor: the QR code to scan, then the first code to confirm; the recovery codes are shown once."""
    user = signed_in()
    if second_factor.enrolled(user):
        flash("La double authentification est déjà activée sur ce compte.", "ok")
        return redirect(url_for("pages.account"))
    if request.method == "GET":
        return _enrolment_view(user, "pages/account_totp.html", error=None)
    codes = second_factor.confirm_enrolment(user=user, code=request.form.get("totp", "")[:CODE_MAX], now=now())
    if codes is None:
        return _enrolment_view(user, "pages/account_totp.html", error=WRONG_CODE), 422
    return render_template("pages/recovery_codes.html", codes=codes, target=url_for("pages.account"), first=True)


@bp.route("/compte/double-authentification/codes-de-secours", methods=["POST"])
def account_recovery_codes() -> Any:
    """Replace one's recovery codes (the old ones stop working) after giving a current code."""
    user = signed_in()
    codes = second_factor.regenerate_recovery_codes(user=user, code=request.form.get("totp", "")[:CODE_MAX], now=now())
    if codes is None:
        flash(WRONG_CODE, "error")
        return redirect(url_for("pages.account"))
    return render_template("pages/recovery_codes.html", codes=codes, target=url_for("pages.account"), first=False)


@bp.route("/compte/double-authentification/desactiver", methods=["POST"])
def account_totp_disable() -> BaseResponse:
    """Turn one's second factor off after giving a code, unless the service asks it of this account."""
    user = signed_in()
    if second_factor.asked(user=user, production=settings.is_production(current_app.config)):
        flash("La double authentification est obligatoire pour ce compte : elle ne peut pas être désactivée.", "error")
    elif second_factor.disable(user=user, code=request.form.get("totp", "")[:CODE_MAX], now=now()):
        flash("Double authentification désactivée.", "ok")
    else:
        flash(WRONG_CODE, "error")
    return redirect(url_for("pages.account"))
