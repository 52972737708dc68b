"""Endpoints of a data subject's requests (GDPR articles 15 to 17): access, erasure, and an operator's rectification."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_smorest import Blueprint

from dispatch.privacy import subjects
from dispatch.privacy.schemas import PatientPatchIn, SubjectAccessOut, SubjectErasureOut, SubjectIn, subject_json
from dispatch.requests.schemas import RequestOut, request_json
from dispatch.web import client_label, current_user, now

bp = Blueprint("subjects", __name__, url_prefix="/api/v1", description="Droits des patients sur leurs données (RGPD)")


def _subject(args: dict[str, Any]) -> subjects.Subject:
    return subjects.Subject(last_name=args["last_name"], first_name=args["first_name"], birth_date=args["birth_date"])


@bp.route("/communities/<int:community_id>/subject-access", methods=["POST"])
@bp.arguments(SubjectIn)
@bp.response(200, SubjectAccessOut)
@bp.doc(
    description="Les demandes du patient dans la communauté, complètes, avec leur historique et le texte de la synthèse "
    "(coordinateurs). Chaque demande montrée est inscrite au registre des accès avec la référence donnée."
)
def subject_access(args: dict[str, Any], community_id: int) -> Any:
    """Hand the patient's data over (right of access)."""
    shown = subjects.subject_access(
        user=current_user(),
        community_id=community_id,
        subject=_subject(args),
        reference=args["reference"],
        now=now(),
        client=client_label(),
    )
    return jsonify(subject_json(shown))


@bp.route("/communities/<int:community_id>/subject-access.pdf", methods=["POST"])
@bp.arguments(SubjectIn)
@bp.response(
    200, {"type": "string", "format": "binary"}, content_type="application/pdf", description="Le même contenu, en PDF à remettre"
)
def subject_access_pdf(args: dict[str, Any], community_id: int) -> Response:
    """Hand the patient's data over as a PDF."""
    name, body = subjects.subject_access_document(
        user=current_user(),
        community_id=community_id,
        subject=_subject(args),
        reference=args["reference"],
        now=now(),
        client=client_label(),
    )
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/communities/<int:community_id>/subject-erasure", methods=["POST"])
@bp.arguments(SubjectIn)
@bp.response(200, SubjectErasureOut)
@bp.alt_response(409, description="Une demande du patient est encore en cours (open_request)")
def subject_erasure(args: dict[str, Any], community_id: int) -> Any:
    """Erase the patient's identity from all their requests (right to erasure); the figures stay."""
    erased = subjects.subject_erasure(
        user=current_user(),
        community_id=community_id,
        subject=_subject(args),
        reference=args["reference"],
        now=now(),
        client=client_label(),
    )
    return {"erased": erased}


@bp.route("/requests/<int:request_id>/patient", methods=["PATCH"])
@bp.arguments(PatientPatchIn)
@bp.response(200, RequestOut)
@bp.alt_response(409, description="Identité déjà effacée (erased)")
def rectify(args: dict[str, Any], request_id: int) -> Any:
    """Correct the patient's identity or phone (the community's operators); the change is an event."""
    reference = args.pop("reference", None)
    shown = subjects.rectify_patient(
        user=current_user(), request_id=request_id, changes=args, reference=reference, now=now(), client=client_label()
    )
    return jsonify(request_json(shown))
