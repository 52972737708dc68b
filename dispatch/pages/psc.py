"""Signing in with Pro Santé Connect (professionals): to the provider, and back with the RPPS it vouches for."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, session
from werkzeug.wrappers import Response as BaseResponse

from config import settings
from dispatch.auth import psc
from dispatch.auth import service as auth
from dispatch.communities import pro_sante_connect
from dispatch.pages import bp
from dispatch.pages.guard import _safe_next, open_page_session
from dispatch.web import client_label, now

CALLBACK = "/connexion/psc/retour"
NEXT_KEY = "psc_next"


def _refused(detail: str, status: int) -> tuple[str, int]:
    return render_template(
        "pages/error.html", title="Connexion avec Pro Santé Connect impossible", detail=detail, status=status
    ), status


@bp.route("/connexion/psc")
def psc_start() -> Any:
    """Send the professional to Pro Santé Connect (only when it is configured)."""
    if not settings.psc_configured(current_app.config):
        abort(404)
    try:
        response = psc.start(current_app._get_current_object(), redirect_uri=settings.public_url(current_app.config, CALLBACK))  # type: ignore[attr-defined]
    except psc.PscFailed:
        return _refused(
            "Pro Santé Connect ne répond pas : réessayez dans quelques minutes, ou connectez-vous avec votre mot de passe.", 502
        )
    session[NEXT_KEY] = _safe_next(request.args.get("next"))
    return response


@bp.route(CALLBACK)
def psc_callback() -> BaseResponse | tuple[str, int]:
    """Come back from Pro Santé Connect: an active physician with this RPPS gets a session of 4 hours at most."""
    if not settings.psc_configured(current_app.config):
        abort(404)
    try:
        subject = psc.finish(current_app._get_current_object())  # type: ignore[attr-defined]
    except psc.PscFailed:
        return _refused(
            "La connexion avec Pro Santé Connect n'a pas abouti (refusée, expirée ou déjà utilisée) : "
            "recommencez depuis la page de connexion.",
            400,
        )
    try:
        result = pro_sante_connect.sign_in_with_psc(
            subject_name_id=subject,
            address=request.remote_addr,
            client=client_label(),
            now=now(),
            limits=auth.SignInLimits.from_config(current_app.config),
        )
    except pro_sante_connect.UnknownProfessional:
        session.clear()
        return _refused(
            "Pro Santé Connect vous a bien identifié·e, mais votre numéro RPPS n'est celui d'aucun médecin actif de SNP "
            "Dispatch. Aucun compte n'est créé à la connexion : demandez à la coordination de votre CPTS de vous inviter.",
            403,
        )
    next_page = session.get(NEXT_KEY)
    return redirect(open_page_session(result, next_page if isinstance(next_page, str) else None))
