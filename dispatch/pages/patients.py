"""The patients a physician took: the last 30 days with outcome and what became of the synthesis, the report PDF, the
calendar entry; and the synthesis's fate in a line for the operator's page of the request."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Response, current_app, render_template, url_for
from sqlalchemy import select

from config import settings
from dispatch import texts
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.pages import bp
from dispatch.pages.common import LABELS, appointment_label
from dispatch.pages.guard import role_page
from dispatch.pages.physician import current_physician, visible
from dispatch.policy import Action
from dispatch.requests import disclosure
from dispatch.requests.models import Request, Synthesis
from dispatch.synthesis.service import consultation_pdf
from dispatch.web import client_label, now

RECENT = timedelta(days=30)
CONSULTATION = timedelta(minutes=20)
SYNTHESIS_LABELS = {
    "pending": ("En cours d'envoi au médecin traitant", "warn"),
    "sent": ("Envoyée au médecin traitant (MSSanté)", "ok"),
    "delivered": ("Remise au médecin traitant (MSSanté)", "ok"),
    "read": ("Lue par le médecin traitant", "ok"),
    "refused": ("Refusée", "error"),  # the reason says by whom and why
    "failed": ("Non remise au médecin traitant", "error"),
    "not_sendable": ("Non envoyée : pas d'adresse MSSanté connue pour le médecin traitant", "warn"),
    "not_needed": ("Rien à envoyer : vous êtes son médecin traitant", "muted"),
}


def delivery(synthesis: Synthesis, tz: str, at: datetime, *, treating_declared: bool = True) -> tuple[str, str]:
    """Return what became of a synthesis, for the physician who wrote it: words (when, or why not) and their tone."""
    if synthesis.status == "not_sendable" and not treating_declared:
        return "Gardée ici : le patient n'a pas déclaré de médecin traitant", "muted"
    text, tone = SYNTHESIS_LABELS.get(synthesis.status, (synthesis.status, "muted"))
    note = texts.delivery_note(synthesis.status, reason=synthesis.status_reason, at=synthesis.status_at, tz=tz, now=at)
    return text + note, tone


@bp.app_template_filter("synthesis_delivery")
def synthesis_delivery(request: Request) -> str:
    """Return what became of a request's synthesis, for the operator's page ('' when none was written)."""
    synthesis = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request.id))
    if synthesis is None:
        return ""
    tz = request.community.timezone
    return texts.synthesis_delivery(synthesis.status, reason=synthesis.status_reason, at=synthesis.status_at, tz=tz, now=now())


@bp.route("/m/patients")
@role_page(Action.ACCEPT)
def patients() -> Any:
    """List the patients I accepted in the last 30 days, with what became of them (each full view recorded)."""
    physician = current_physician()
    at = now()
    taken = db.session.scalars(
        select(Request)
        .where(Request.accepted_by_id == physician.id, Request.accepted_at >= at - RECENT)
        .order_by(Request.appointment_at.desc(), Request.id.desc())
        .limit(200)
    ).all()
    syntheses = {
        s.request_id: s for s in db.session.scalars(select(Synthesis).where(Synthesis.request_id.in_([r.id for r in taken]))).all()
    }

    def extra(r: Request) -> dict[str, Any]:
        synthesis = syntheses.get(r.id)
        return {
            "when": appointment_label(r.appointment_at, r.community.timezone, at),
            "synthesis": synthesis.text if synthesis else None,
            "delivery": delivery(synthesis, r.community.timezone, at, treating_declared=r.treating_status == "declared")
            if synthesis
            else None,
        }

    shown = disclosure.show_many(physician.user, taken, what="patients", now=at, client=client_label(), extra=extra)
    return render_template("pages/patients.html", patients=shown, labels=LABELS)


@bp.route("/m/requests/<int:request_id>/compte-rendu.pdf")
@role_page(Action.ACCEPT)
def synthesis_pdf(request_id: int) -> Any:
    """Download the consultation report sent to the treating GP (it names the patient: recorded in the trail)."""
    physician, req = visible(request_id, Action.SYNTHESIS_PDF)
    pdf = consultation_pdf(request=req)
    if pdf is None:
        raise Problem(404, "not_found", "Aucune synthèse n'a été rédigée pour cette demande.")
    disclosure.reveal(physician.user, req, action=Action.SYNTHESIS_PDF, what="synthesis_pdf", now=now(), client=client_label())
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="compte-rendu-{req.id}.pdf"'
    return response


@bp.route("/m/requests/<int:request_id>/rendez-vous.ics")
@role_page(Action.ACCEPT)
def calendar_entry(request_id: int) -> Any:
    """Download the appointment as an iCalendar event, for the physician who accepted it only.

    The event names no patient: a phone's calendar is often synchronised with outside services or shared with a
    secretariat. It links to the request's page, which shows the patient after sign-in.
    """
    _physician, req = visible(request_id, Action.OUTCOME)
    if req.appointment_at is None:
        raise Problem(404, "not_found", "Cette demande n'a pas de rendez-vous.")
    # The public address, never the request's Host header: the event is kept, synchronised and shared.
    link = settings.public_url(current_app.config, url_for("pages.offer", request_id=req.id))
    body = ics_event(
        uid=f"snp-dispatch-request-{req.id}@{settings.public_host(current_app.config)}",
        start=req.appointment_at,
        stamp=now(),
        summary=f"Consultation SNP : {LABELS['motives'].get(req.motive, req.motive)} (demande n° {req.id})",
        location=req.place or "",
        description="Demande de soins non programmés acceptée dans SNP Dispatch. Le patient : " + link,
        url=link,
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="rendez-vous-{req.id}.ics"'
    return response


def ics_event(*, uid: str, start: datetime, stamp: datetime, summary: str, location: str, description: str, url: str) -> bytes:
    """Return one VEVENT in a VCALENDAR (RFC 5545): UTC times, escaped text, lines folded at 75 octets, CRLF."""

    def utc(at: datetime) -> str:
        return at.strftime("%Y%m%dT%H%M%SZ")

    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//SNP Dispatch//Rendez-vous//FR",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{utc(stamp)}",
        f"DTSTART:{utc(start)}",
        f"DTEND:{utc(start + CONSULTATION)}",
        f"SUMMARY:{_ics_text(summary)}",
        f"LOCATION:{_ics_text(location)}",
        f"DESCRIPTION:{_ics_text(description)}",
        f"URL:{url}",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Consultation SNP",
        "TRIGGER:-PT15M",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_fold(line) + "\r\n" for line in lines).encode()


def _ics_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11)."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold a content line at 75 octets, never inside a UTF-8 character (RFC 5545 §3.1)."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode())
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)
