"""The synthesis as a document: the report of a stored synthesis, and its PDF."""

from __future__ import annotations

from sqlalchemy import select

from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.requests.models import Event, Request, Synthesis
from dispatch.synthesis.document import SynthesisDoc, build_pdf, doctor, treating_unavailable


def synthesis_doc(synthesis: Synthesis, request: Request, *, custodian_id: str = "") -> SynthesisDoc:
    """Return the report of a stored synthesis: same rows, same document."""
    author = db.session.get(Physician, synthesis.physician_id)
    assert author is not None
    teleconsultation = request.modality == "teleconsultation"
    unavailable = None
    if teleconsultation:  # what allows a teleconsultation by another physician than the treating GP: it is recorded
        trail = [
            (type_, data or {})
            for type_, data in db.session.execute(
                select(Event.type, Event.data).where(Event.request_id == request.id).order_by(Event.id)
            )
        ]
        unavailable = treating_unavailable(
            treating_status=request.treating_status,
            treating_physician_id=request.treating_physician_id,
            accepted_by_id=synthesis.physician_id,
            trail=trail,
        )
    regulator = (
        f"{doctor(request.sas_regulator_name or '')} (RPPS {request.sas_regulator_rpps})" if request.sas_regulator_rpps else None
    )
    return SynthesisDoc(
        synthesis_id=synthesis.id,
        request_id=request.id,
        community_name=request.community.name,
        written_at=synthesis.written_at,
        appointment_at=request.appointment_at,
        place=request.place,
        motive=request.motive,
        patient_last_name=request.patient_last_name,
        patient_first_name=request.patient_first_name,
        patient_birth_date=request.patient_birth_date,
        patient_sex=request.patient_sex,
        physician_name=author.user.name,
        physician_rpps=author.rpps,
        physician_kind=author.kind,
        treating_name=request.treating_name,
        treating_address=synthesis.to_address or "",
        text=synthesis.text,
        timezone=request.community.timezone,
        custodian_id=custodian_id,
        teleconsultation=teleconsultation,
        treating_unavailable=unavailable,
        sas_regulator=regulator,
    )


def consultation_pdf(*, request: Request) -> bytes | None:
    """Return the consultation report PDF of a request, or None when no synthesis was written; 410 once erased."""
    if request.erased_at is not None:
        raise Problem(
            410,
            "erased",
            "Le compte rendu de cette demande a été effacé (durée de conservation écoulée, ou demande du patient).",
        )
    synthesis = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request.id))
    return build_pdf(synthesis_doc(synthesis, request)) if synthesis is not None else None
