"""Endpoint serving the consultation report PDF to those who may see the patient's identity."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from dispatch.errors import Problem
from dispatch.requests.access import load_request, view_level
from dispatch.synthesis.service import consultation_pdf
from dispatch.web import current_user

bp = Blueprint("synthesis", __name__, url_prefix="/api/v1", description="Synthèses de consultation")

PDF_SCHEMA = {"type": "string", "format": "binary"}


@bp.route("/requests/<int:request_id>/synthesis.pdf", methods=["GET"])
@bp.response(200, PDF_SCHEMA, content_type="application/pdf",
             description="Le compte rendu de consultation envoyé au médecin traitant (PDF)")
@bp.alt_response(404, description="Demande inconnue, non visible, ou sans synthèse")
def synthesis_pdf(request_id: int) -> Response:
    """Download the consultation report: operator, coordinator, admin, treating GP, accepting physician."""
    user = current_user()
    request = load_request(request_id)
    if view_level(user, request) != "full":  # it names the patient: the full view only
        raise Problem(404, "not_found", "Demande introuvable.")
    pdf = consultation_pdf(request=request)
    if pdf is None:
        raise Problem(404, "not_found", "Aucune synthèse n'a été rédigée pour cette demande.")
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="compte-rendu-{request.id}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response
