"""Endpoint serving the consultation report PDF to those who may see the patient's identity."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from dispatch.db import db
from dispatch.errors import Problem
from dispatch.policy import Action
from dispatch.requests import disclosure
from dispatch.requests.models import Request
from dispatch.synthesis.service import consultation_pdf
from dispatch.web import client_label, current_user, now

bp = Blueprint("synthesis", __name__, url_prefix="/api/v1", description="Synthèses de consultation")

PDF_SCHEMA = {"type": "string", "format": "binary"}


@bp.route("/requests/<int:request_id>/synthesis.pdf", methods=["GET"])
@bp.response(
    200, PDF_SCHEMA, content_type="application/pdf", description="Le compte rendu de consultation envoyé au médecin traitant (PDF)"
)
@bp.alt_response(404, description="Demande inconnue, non visible, ou sans synthèse")
@bp.alt_response(410, description="Synthèse effacée avec l'identité du patient (code erased)")
def synthesis_pdf(request_id: int) -> Response:
    """Download the consultation report: operator, coordinator, admin, treating GP, accepting physician."""
    user = current_user()
    request = db.session.get(Request, request_id)
    if request is None:
        raise Problem(404, "not_found", "Demande introuvable.")
    disclosure.require(user, Action.SYNTHESIS_PDF, request)
    pdf = consultation_pdf(request=request)
    if pdf is None:
        raise Problem(404, "not_found", "Aucune synthèse n'a été rédigée pour cette demande.")
    # The document names the patient: served only with its line in the trail.
    disclosure.reveal(user, request, action=Action.SYNTHESIS_PDF, what="synthesis_pdf", now=now(), client=client_label())
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="compte-rendu-{request.id}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response
