"""Build the mails of the outbox: secure messages from the stored request and synthesis, plain ones from their payload."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

from flask import current_app

from config import settings
from dispatch.communities.identity import identity_of
from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import OutgoingMail
from dispatch.requests.models import Request, Synthesis
from dispatch.synthesis.document import TakenNotice
from dispatch.synthesis.messages import build_synthesis_message, build_taken_message, new_message_id
from dispatch.synthesis.service import synthesis_doc


def stored_message_id(message: OutboxMessage, *, sender: str) -> str:
    """Return the Message-ID this outbox row goes with: drawn at random on its first attempt and kept on the row
    (`provider_id`), so that a retry sends the same one and a report (DSN, MDN) is matched to it alone."""
    if not message.provider_id:
        message.provider_id = new_message_id(sender)
    return message.provider_id


def build_plain(message: OutboxMessage, *, sender: str) -> EmailMessage:
    """Return a plain French mail whose payload says everything: subject and text (e.g. a password-reset link)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.address or ""
    mail["Subject"] = message.payload["subject"]
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = stored_message_id(message, sender=sender)
    mail.set_content(message.payload["body"])
    return mail


def build_mail(message: OutboxMessage) -> OutgoingMail:
    """Return the MIME message for an outbox row of the mail channel, and whether it goes over MSSanté.

    A plain mail (its payload says everything: subject and text) concerns no patient: the ordinary relay carries it,
    from DISPATCH_MAIL_SMTP_FROM. A secure message speaks for the request's community: its mailbox is the From (and
    the certificate presented), its IdNatStruct the custodian; the installation's where it has none.
    """
    config = current_app.config
    if "subject" in message.payload:
        return OutgoingMail(build_plain(message, sender=settings.ordinary_from(config)), secure=False)
    nil = config["DISPATCH_MSSANTE_NIL"]
    request = db.session.get(Request, message.request_id)
    assert request is not None
    identity = identity_of(request.community, config)
    sender = identity.mssante_from
    if message.kind == "synthesis":
        synthesis = db.session.get(Synthesis, message.payload["synthesis_id"])
        assert synthesis is not None
        doc = synthesis_doc(synthesis, request, custodian_id=identity.custodian_id)
        built = build_synthesis_message(doc, sender=sender, nil=nil, ident=stored_message_id(message, sender=sender))
        return OutgoingMail(built, secure=True)
    accepted = db.session.get(Physician, request.accepted_by_id)
    assert accepted is not None
    notice = TakenNotice(
        request_id=request.id,
        community_name=request.community.name,
        opened_at=request.opened_at,
        appointment_at=request.appointment_at,
        place=request.place,
        physician_name=accepted.user.name,
        physician_kind=accepted.kind,
        physician_rpps=accepted.rpps,
        patient_last_name=request.patient_last_name,
        patient_first_name=request.patient_first_name,
        patient_birth_date=request.patient_birth_date,
        patient_sex=request.patient_sex,
        treating_name=request.treating_name,
        treating_address=message.address or "",
        timezone=request.community.timezone,
        notified_at=request.accepted_at,
    )
    return OutgoingMail(
        build_taken_message(notice, sender=sender, nil=nil, ident=stored_message_id(message, sender=sender)), secure=True
    )
