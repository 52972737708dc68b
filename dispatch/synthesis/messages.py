"""Build the MSSanté messages to the treating GP: the synthesis, and who took their patient."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from dispatch.synthesis.cda import build_cda
from dispatch.synthesis.document import (
    CONSULTATION_CODE,
    SynthesisDoc,
    TakenNotice,
    agree,
    born,
    build_pdf,
    doctor,
    format_datetime_fr,
    kind_label,
    motive_label,
    patient_label,
)
from dispatch.synthesis.xdm import build_xdm_zip

# MSSanté headers, from the ANS "Référentiel socle MSSanté #2 - Clients de messageries sécurisées
# de santé" (v1.0, §3.8, requirements ECO.2.4.x):
# - X-MSS-CODECDA (ECO.2.4.1): set only when an IHE_XDM archive carries a CDA document; its value
#   is the `code` of that CDA's header (CI-SIS "structuration minimale"), the bare code without
#   label nor code system, comma-separated when there are several documents. Ours: LOINC 11488-4.
# - X-MSS-INS (ECO.2.4.2): set only with a CDA attached: "O" when it carries a qualified INS
#   (matricule, OID and the four identity traits), else "N". The identity we hold is the one given
#   on the phone, never checked against the INS teleservice: always "N".
# - X-MSS-NIL (ECO.2.4.3): on every message, the product reference declared on Convergence.
MSS_CODECDA = CONSULTATION_CODE
MSS_INS = "N"


def message_id(kind: str, number: int, sender: str) -> str:
    """Return a stable Message-ID made of a kind and a number: for the demo's history only, which sends nothing.

    A message that leaves has new_message_id()'s: the receipts poller believes a report only about a Message-ID
    nobody could have guessed.
    """
    return f"<{kind}-{number}@{_domain(sender)}>"


def new_message_id(sender: str) -> str:
    """Return a fresh, unguessable Message-ID (128 random bits) in the sender's domain."""
    return f"<{secrets.token_hex(16)}@{_domain(sender)}>"


def _domain(sender: str) -> str:
    return sender.rpartition("@")[2].strip(" >") or "snp-dispatch.invalid"


def _headers(
    msg: EmailMessage,
    *,
    sender: str,
    to: str,
    subject: str,
    at: datetime,
    ident: str,
    nil: str,
    name: str,
    receipt: bool,
) -> None:
    # The GP's mailbox shows who writes: the CPTS, not a bare platform address.
    msg["From"] = formataddr((name, sender)) if name else sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at.astimezone(UTC))
    msg["Message-ID"] = ident
    msg["X-MSS-NIL"] = nil
    if receipt:  # one read receipt asked per patient: the synthesis's, not the notice before it
        msg["Disposition-Notification-To"] = sender


def build_synthesis_message(doc: SynthesisDoc, *, sender: str, nil: str, ident: str) -> EmailMessage:
    """Build the MSSanté message carrying the synthesis to the treating GP."""
    sex = doc.patient_sex
    who = patient_label(doc.patient_last_name, doc.patient_first_name)
    seen = f" le {format_datetime_fr(doc.appointment_at, doc.timezone)}" if doc.appointment_at else ""
    where = f" ({doc.place})" if doc.place else ""
    greeting = f"Bonjour {doctor(doc.treating_name)}," if doc.treating_name else "Bonjour,"
    body = (
        f"{greeting}\n\n"
        f"Votre {agree(sex, 'patient', 'patiente', 'patient(e)')} {who} "
        f"({born(sex, doc.patient_birth_date)}) "
        f"a été {agree(sex, 'vu', 'vue', 'vu(e)')}{seen}{where} par "
        f"{doctor(doc.physician_name)} ({kind_label(doc.physician_kind)}, "
        f"RPPS {doc.physician_rpps}) dans le cadre des soins non programmés "
        f"({doc.community_name}, demande n° {doc.request_id}).\n\n"
        f"Motif : {motive_label(doc.motive)}\n\n"
        f"Synthèse de consultation :\n{doc.text}\n\n"
        "Le compte rendu est joint au format PDF et au format CDA (archive IHE_XDM).\n\n"
        f"Cordialement,\nLa plateforme de soins non programmés - {doc.community_name}\n"
    )
    msg = EmailMessage()
    _headers(
        msg,
        sender=sender,
        to=doc.treating_address,
        at=doc.written_at,
        nil=nil,
        subject=f"Synthèse de consultation – {who} – demande n° {doc.request_id}",
        ident=ident,
        name=doc.community_name,
        receipt=True,
    )
    msg["X-MSS-CODECDA"] = MSS_CODECDA
    msg["X-MSS-INS"] = MSS_INS
    msg.set_content(body, cte="quoted-printable")
    pdf = build_pdf(doc)
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"compte-rendu-{doc.request_id}.pdf")
    msg.add_attachment(build_xdm_zip(doc, build_cda(doc, pdf)), maintype="application", subtype="zip", filename="IHE_XDM.zip")
    for part in msg.iter_attachments():
        del part["MIME-Version"]  # only the top level carries it
    msg.set_boundary(f"=_snp-synthesis-{doc.synthesis_id}")  # stable: same input, same bytes
    return msg


def build_taken_message(notice: TakenNotice, *, sender: str, nil: str, ident: str) -> EmailMessage:
    """Build the MSSanté message telling a GP off the platform that their patient was seen."""
    sex = notice.patient_sex
    when = f" le {format_datetime_fr(notice.appointment_at, notice.timezone)}" if notice.appointment_at else ""
    where = f" à {notice.place}" if notice.place else ""
    greeting = f"Bonjour {doctor(notice.treating_name)}," if notice.treating_name else "Bonjour,"
    body = (
        f"{greeting}\n\n"
        f"Votre {agree(sex, 'patient', 'patiente', 'patient(e)')} "
        f"{patient_label(notice.patient_last_name, notice.patient_first_name)} "
        f"({born(sex, notice.patient_birth_date)}) "
        f"a appelé le {format_datetime_fr(notice.opened_at, notice.timezone)} ; "
        f"{agree(sex, 'il', 'elle', 'il/elle')} a été "
        f"{agree(sex, 'pris', 'prise', 'pris(e)')} en charge par "
        f"{doctor(notice.physician_name)} ({kind_label(notice.physician_kind)}, "
        f"RPPS {notice.physician_rpps}){when}{where}.\n\n"
        "Ce message vous est adressé par la plateforme de soins non programmés "
        f"({notice.community_name}, demande n° {notice.request_id}) afin que vous restiez "
        "informé(e) du parcours de votre patient(e).\n\n"
        f"Cordialement,\nLa plateforme de soins non programmés - {notice.community_name}\n"
    )
    msg = EmailMessage()
    _headers(
        msg,
        sender=sender,
        to=notice.treating_address,
        nil=nil,
        at=notice.notified_at or notice.opened_at,
        subject=f"Prise en charge de votre patient(e) – demande n° {notice.request_id}",
        ident=ident,
        name=notice.community_name,
        receipt=False,
    )
    msg.set_content(body, cte="quoted-printable")
    return msg
