"""Pages of one's account: change one's password, sign out everywhere; choose a password from a reset or invitation link."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, make_response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from dispatch.auth import accounts
from dispatch.auth import service as auth
from dispatch.auth.models import User
from dispatch.communities import members, membership
from dispatch.db import db
from dispatch.pages import bp, second_factor
from dispatch.pages.common import pick_community
from dispatch.pages.guard import SESSION_KEY, role_page, signed_in, wait_words
from dispatch.policy import Action
from dispatch.web import now, runtime

MIN_LENGTH, MAX_LENGTH = 10, 256
LENGTH_ERROR = f"Le mot de passe doit compter entre {MIN_LENGTH} et {MAX_LENGTH} caractères."


def _new_password_errors() -> tuple[str, dict[str, list[str]]]:
    new, again = request.form.get("new_password", ""), request.form.get("new_password_again", "")
    errors: dict[str, list[str]] = {}
    if not MIN_LENGTH <= len(new) <= MAX_LENGTH:
        errors["new_password"] = [LENGTH_ERROR]
    elif new != again:
        errors["new_password_again"] = ["Les deux saisies ne sont pas identiques."]
    return new, errors


@bp.route("/compte")
def account() -> Any:
    """Show the forms to change one's password and to sign out everywhere."""
    signed_in()
    return render_template("pages/account.html", errors={}, totp=second_factor.account_second_factor())


@bp.route("/compte/mot-de-passe", methods=["POST"])
def account_password() -> Any:
    """Change one's own password; one's other sessions (phones, browsers) are signed out, this one stays."""
    user: User = signed_in()
    new, errors = _new_password_errors()
    if not errors:
        try:
            accounts.change_password(
                user=user,
                current=request.form.get("current_password", "")[:MAX_LENGTH],
                new=new,
                ph=runtime().hasher,
                now=now(),
                keep=session.get(SESSION_KEY),
                address=request.remote_addr,
                limits=auth.SignInLimits.from_config(current_app.config),
            )
        except auth.TooManyAttempts as exc:
            errors["current_password"] = [f"Trop de tentatives\u202f: réessayez dans {wait_words(exc.retry_after)}."]
            response = make_response(
                render_template("pages/account.html", errors=errors, totp=second_factor.account_second_factor()), 429
            )
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except accounts.WrongPassword:
            errors["current_password"] = ["Mot de passe actuel incorrect."]
    if errors:
        return render_template("pages/account.html", errors=errors, totp=second_factor.account_second_factor()), 422
    flash("Mot de passe changé. Vos autres sessions (téléphones, navigateurs) sont déconnectées.", "ok")
    return redirect(url_for("pages.account"))


@bp.route("/compte/deconnexion-partout", methods=["POST"])
def account_sign_out_everywhere() -> BaseResponse:
    """Sign out everywhere: every session and token of mine is revoked, this one included."""
    accounts.sign_out_everywhere(user=signed_in(), now=now())
    session.clear()
    flash("Vous êtes déconnecté·e de tous vos appareils.", "ok")
    return redirect(url_for("pages.sign_in"))


@bp.route("/pilotage/membres/<int:user_id>/reinitialiser", methods=["POST"])
@role_page(Action.MANAGE_COMMUNITY)
def member_reset(user_id: int) -> BaseResponse:
    """Send a member a single-use link, valid 24 h, to choose a new password, by the channel chosen (SMS or mail)."""
    me = signed_in()
    community = pick_community(me, Action.MANAGE_COMMUNITY)
    asked = request.form.get("channel")
    try:
        _reset, channel = members.reset_member(
            community=community,
            user_id=user_id,
            by=me,
            now=now(),
            public_url=current_app.config["DISPATCH_PUBLIC_URL"],
            channel=asked if asked in accounts.RESET_CHANNELS else None,
        )
    except LookupError:
        flash("Ce compte n'est pas un membre actif de la communauté.", "error")
    except (membership.Forbidden, accounts.Rationed) as exc:
        flash(exc.detail, "error")
    except accounts.NoPhone as exc:
        missing = "de numéro de portable : ajoutez-le" if exc.channel == "sms" else "d'adresse email : ajoutez-la"
        name = getattr(membership.member_of(community=community, user_id=user_id), "name", "Ce membre")
        flash(f"{name} n'a pas {missing} d'abord.", "error")
    else:
        name = getattr(membership.member_of(community=community, user_id=user_id), "name", "")
        by = "SMS" if channel == "sms" else "mail"
        flash(f"Un lien de réinitialisation (valable 24 h, une seule fois) a été envoyé par {by} à {name}.", "ok")
    return redirect(url_for("pages.members", community=community.id))


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
def forgot_password() -> Any:
    """Ask for a link to choose a new password, sent to the account's mobile (else its mail): the same answer for all."""
    if request.method == "GET":
        return render_template("pages/forgot.html", login="")
    login = request.form.get("login", "").strip()[:100]
    if not login:
        return render_template("pages/forgot.html", login="", error="Indiquez votre identifiant."), 422
    accounts.forgot_password(login=login, now=now(), public_url=current_app.config["DISPATCH_PUBLIC_URL"])
    flash(
        "Si ce compte existe, un lien pour choisir un nouveau mot de passe vient d'être envoyé à son téléphone portable "
        "(ou à son adresse mail) : il est valable 24 heures. Rien reçu ? Adressez-vous à la coordination de votre CPTS.",
        "ok",
    )
    return redirect(url_for("pages.sign_in"))


@bp.route("/reinitialisation/<secret>", methods=["GET", "POST"])
def reset_password(secret: str) -> Any:
    """Choose a new password from a reset link; every session of the account is then signed out."""
    at = now()
    try:
        accounts.usable_reset(secret=secret[:100], now=at)
    except accounts.ResetUnusable:
        return render_template("pages/reset.html", unusable=True, errors={}), 404
    if request.method == "GET":
        return render_template("pages/reset.html", unusable=False, errors={})
    new, errors = _new_password_errors()
    if errors:
        return render_template("pages/reset.html", unusable=False, errors=errors), 422
    accounts.finish_reset(secret=secret[:100], new=new, ph=runtime().hasher, now=at)
    session.clear()
    flash("Mot de passe enregistré\u00a0: connectez-vous avec le nouveau.", "ok")
    return redirect(url_for("pages.sign_in"))


@bp.route("/definir-mot-de-passe/<secret>", methods=["GET", "POST"])
def choose_password(secret: str) -> Any:
    """Choose one's first password from an invitation link (a reset link works too); the link is then used up."""
    at = now()
    try:
        link = accounts.usable_reset(secret=secret[:100], now=at)
    except accounts.ResetUnusable:
        return render_template("pages/set_password.html", unusable=True, errors={}, user=None), 404
    user = db.session.get(User, link.user_id)
    if request.method == "GET":
        return render_template("pages/set_password.html", unusable=False, errors={}, user=user)
    new, errors = _new_password_errors()
    if errors:
        return render_template("pages/set_password.html", unusable=False, errors=errors, user=user), 422
    user = accounts.finish_reset(secret=secret[:100], new=new, ph=runtime().hasher, now=at)
    session.clear()
    flash(f"Mot de passe enregistré\u202f: connectez-vous avec votre identifiant «\u00a0{user.login}\u00a0».", "ok")
    return redirect(url_for("pages.sign_in"))
