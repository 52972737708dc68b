"""Endpoints of accounts: sign in, sign out (who am I, `GET /me`, is in `dispatch.api.communities`)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import fields, validate

from config import settings
from dispatch.auth import accounts, service
from dispatch.errors import Problem
from dispatch.schemas import Id, Integer, Schema, text
from dispatch.web import bearer_token, client_label, current_user, now, runtime

bp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Comptes et jetons d'accès")


class TokenIn(Schema):
    login = text(120, required=True)
    password = fields.String(required=True, validate=ma.validate.Length(min=1, max=256))
    totp = fields.String(
        validate=ma.validate.Length(min=1, max=32),
        metadata={
            "description": "Le code à usage unique de la double authentification (6 chiffres de l'application TOTP), "
            "ou un code de secours : requis des comptes qui l'ont activée, et en production de l'administrateur et "
            "des coordinateurs (des opérateurs si leur communauté le demande)"
        },
    )


class UserBrief(Schema):
    id = Id()
    role = fields.String()
    name = fields.String()


class TokenOut(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = Integer()
    user = fields.Nested(UserBrief)


@bp.route("/auth/token", methods=["POST"])
@bp.arguments(TokenIn)
@bp.response(200, TokenOut)
@bp.alt_response(
    401,
    description="Identifiant ou mot de passe incorrect (`code: bad_credentials`) ; code de double authentification "
    "absent (`code: totp_required`) ou faux ou déjà utilisé (`code: bad_totp`, compté comme un mauvais mot de passe)",
)
@bp.alt_response(
    403,
    description="Compte désactivé (`code: account_disabled`, identifiant et mot de passe justes) ; double "
    "authentification exigée mais pas encore activée : l'activer depuis la page de connexion "
    "(`code: totp_enrolment_required`)",
)
@bp.alt_response(429, description="Trop de tentatives")
def sign_in(args: dict[str, Any]) -> dict[str, Any]:
    """Exchange a login and password (and the second factor's code, for the accounts that have one) for a bearer token."""
    config = current_app.config
    try:
        session = service.sign_in(
            login=args["login"],
            password=args["password"],
            address=request.remote_addr,
            client=client_label(),
            now=now(),
            ph=runtime().hasher,
            limits=service.SignInLimits.from_config(config),
            totp=args.get("totp"),
            production=settings.is_production(config),
        )
    except service.TotpRequired as exc:
        if not exc.enrolled:
            raise Problem(
                403,
                "totp_enrolment_required",
                "Ce compte doit activer la double authentification : connectez-vous une première fois depuis la page "
                "de connexion du site pour l'activer.",
            ) from None
        raise Problem(401, "totp_required", "Indiquez le code à usage unique de votre application d'authentification.") from None
    except service.BadTotp:
        raise Problem(401, "bad_totp", "Code de double authentification incorrect ou déjà utilisé.") from None
    except service.TooManyAttempts as exc:
        raise Problem(
            429,
            "too_many_attempts",
            "Trop de tentatives de connexion : réessayez plus tard.",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    except service.AccountDisabled:
        raise Problem(
            403, "account_disabled", "Ce compte a été désactivé. Adressez-vous à la coordination de votre CPTS."
        ) from None
    except service.BadCredentials:
        raise Problem(401, "bad_credentials", "Identifiant ou mot de passe incorrect.") from None
    user = session.user
    return {
        "access_token": session.token,
        "token_type": "Bearer",
        "expires_in": session.expires_in,
        "user": {"id": user.id, "role": user.role, "name": user.name},
    }


@bp.route("/auth/token", methods=["DELETE"])
@bp.response(204)
@bp.alt_response(401, description="Jeton absent ou invalide")
def sign_out() -> None:
    """Revoke the bearer token of this call."""
    current_user()
    token = bearer_token()
    assert token is not None
    service.sign_out(token=token, now=now())


PASSWORD = validate.Length(min=10, max=256, error="Le mot de passe doit compter entre 10 et 256 caractères.")


class PasswordChangeIn(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    new_password = fields.String(required=True, validate=PASSWORD)


@bp.route("/me/password", methods=["POST"])
@bp.arguments(PasswordChangeIn)
@bp.response(204)
@bp.alt_response(422, description="Mot de passe actuel incorrect, ou nouveau mot de passe trop court")
@bp.alt_response(429, description="Trop de tentatives : le mot de passe actuel est vérifié au rythme d'une connexion")
def change_password(args: dict[str, Any]) -> None:
    """Change my password; every other token of mine (phones, browsers) is revoked, this one stays.

    The current password is checked at the pace of a sign-in: after too many wrong ones, 429 with Retry-After.
    """
    try:
        accounts.change_password(
            user=current_user(),
            current=args["current_password"],
            new=args["new_password"],
            ph=runtime().hasher,
            now=now(),
            keep=bearer_token(),
            address=request.remote_addr,
            limits=service.SignInLimits.from_config(current_app.config),
        )
    except service.TooManyAttempts as exc:
        raise Problem(
            429,
            "too_many_attempts",
            "Trop de tentatives : réessayez plus tard.",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    except accounts.WrongPassword:
        errors = {"current_password": ["Mot de passe actuel incorrect."]}
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors=errors) from None


@bp.route("/auth/tokens", methods=["DELETE"])
@bp.response(204)
def sign_out_everywhere() -> None:
    """Sign out everywhere: revoke every token of mine, this one included (phones, browsers, the pages)."""
    accounts.sign_out_everywhere(user=current_user(), now=now())
