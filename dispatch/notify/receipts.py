"""Read the reports a secure message brings back: delivery status notifications (RFC 3464) and message disposition
notifications (RFC 8098). Pure: bytes in, a value out; no I/O, no clock.

A mail server reports that it delivered, relayed, delayed or could not deliver a message (a DSN,
`multipart/report; report-type=delivery-status`); the recipient's software reports that it displayed, processed
or deleted it, or failed to process it (an MDN, `report-type=disposition-notification`). An MSSanté client that
cannot integrate the document answers `Disposition: automatic-action/MDN-sent-automatically; processed/Error:
<code>^<label>` (ANS, "Volet Transmission au LPS de documents CDA provenant d'un courriel MSSanté", structure du
MDN). Only the machine-readable fields are read: the human-readable text, the subject and the returned message
may name the patient, and nothing of them leaves this module.

Who a report says it comes from (its From, the DSN's Reporting-MTA) and whom it is about (Final-Recipient,
Original-Recipient) are read too: dispatch.notify.receiving believes a report only when they are what they must be.
The remote's own words (Diagnostic-Code, the MDN's error) are kept apart from our reason, to be shown quoted.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import email
import email.policy
import quopri
import re
import unicodedata
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses

STATUSES = ("delivered", "read", "refused", "failed")
DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
MDN_TYPES = ("message/disposition-notification", "message/global-disposition-notification")
HEADER_TYPES = ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers")
RETURNED_TYPES = ("message/rfc822", "message/global")
NBSP = "\u00a0"  # French typography: a no-break space before ":"
_ID = re.compile(r"<([^<>]+)>")
_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class Receipt:
    """What one report says of the message it is about."""

    kind: str  # "dsn" or "mdn"
    original_id: str | None  # the Message-ID reported on, as "<...>"
    status: str | None  # one of STATUSES; None when nothing is final yet (delayed, relayed)
    code: str  # the DSN's status ("5.1.1") or the MDN's disposition ("processed/error")
    diagnostic: str  # the remote's own technical words (Diagnostic-Code, the MDN's error), short
    recipient: str | None  # the final recipient reported on
    reason: str  # why it was refused or failed, in French for people, in our words only (no address); "" otherwise
    original_recipient: str | None = None  # the recipient as the message named it (Original-Recipient), if said
    sender: str | None = None  # the report's From: one address, lower-case; None when it names none or several
    reporting_mta: str | None = None  # a DSN's Reporting-MTA: the host of the server that wrote it

    @property
    def remote_words(self) -> str:
        """Return what the remote server or software wrote (an HL7 error's label), "" when it wrote nothing."""
        code, _, rest = self.diagnostic.partition("^")
        if self.kind == "mdn" and rest and code.strip().isdigit():
            return rest.split("^")[0].strip()
        return self.diagnostic

    @property
    def explained(self) -> str:
        """Return the reason, then the remote's own words quoted as theirs (for those who may see the address)."""
        words = self.remote_words
        if not words or not self.reason:
            return self.reason
        who = "du serveur de messagerie" if self.kind == "dsn" else "du logiciel du médecin traitant"
        return f"{self.reason}. Réponse {who}, telle quelle{NBSP}: «{NBSP}{words}{NBSP}»"


def doubt(
    receipt: Receipt,
    *,
    address: str,
    dsn_domains: tuple[str, ...],
    sent_from: str | None = None,
    found_in: str | None = None,
) -> str | None:
    """Say why a report about a message sent to `address` is not believed, or None when it is.

    It must be found in the mailbox the message left from (`found_in` is the mailbox read, `sent_from` the From the
    message went with: a community's own mailbox or the platform's; either unknown, not compared); it must name
    `address` as its Final-Recipient or Original-Recipient; an MDN must come From it (the GP's software answers from
    the GP's box); a DSN must come from a mail server of the platform's own MSSanté operator: its Reporting-MTA and
    its From under one of `dsn_domains`.
    """
    if sent_from and found_in and sent_from.strip().lower() != found_in.strip().lower():
        return "found in another mailbox than the message left from"
    wanted = address.strip().lower()
    if wanted not in (receipt.recipient, receipt.original_recipient):
        return "names another recipient"
    if receipt.kind == "mdn":
        return None if receipt.sender == wanted else "not from the recipient"
    sender_domain = (receipt.sender or "").rpartition("@")[2]
    if not (under(receipt.reporting_mta or "", dsn_domains) and under(sender_domain, dsn_domains)):
        return "not from the platform's MSSanté operator"
    return None


def under(host: str, domains: tuple[str, ...]) -> bool:
    """Tell whether a host name is one of these domains or below one of them."""
    name = host.strip().lower().rstrip(".")
    return bool(name) and any(name == domain or name.endswith("." + domain) for domain in domains if domain)


def domains_setting(value: object) -> tuple[str, ...]:
    """Read a comma-separated list of mail domains (a leading dot is allowed and means the same)."""
    return tuple(d for d in (part.strip().lower().strip(".") for part in str(value or "").split(",")) if d)


def is_report(content_type: str) -> bool:
    """Say whether a Content-Type header's value announces a report (a DSN or an MDN)."""
    return content_type.strip().lower().startswith("multipart/report")


def parse_receipt(raw: bytes) -> Receipt | None:
    """Return what a received mail reports, or None when it is no DSN or MDN this module understands."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if message.get_content_type() != "multipart/report":
        return None
    parts = list(message.walk())  # the report part may sit inside a multipart/alternative (Exchange)
    report = next((part for part in parts if part.get_content_type() in (*DSN_TYPES, *MDN_TYPES)), None)
    if report is None:  # another kind of report (e.g. an abuse feedback report)
        return None
    kind = "dsn" if report.get_content_type() in DSN_TYPES else "mdn"
    blocks = _blocks(report)
    if not blocks:
        return None
    returned = _returned_id(parts)
    found = _dsn(blocks, returned) if kind == "dsn" else _mdn(blocks, returned or _replied_to(message))
    return dataclasses.replace(found, sender=_one_address(message.get_all("From") or []))


def _dsn(blocks: list[Message], returned: str | None) -> Receipt:
    """Read a DSN: the per-message fields, then one block per recipient; the worst recipient's news wins."""
    recipients = [block for block in blocks if _field(block, "Action") or _field(block, "Final-Recipient")]
    envelope = next((block for block in blocks if block not in recipients), None)
    original = returned or (_message_id(_xtext(_field(envelope, "Original-Envelope-Id"))) if envelope is not None else None)
    chosen, action = None, ""
    for wanted in (("failed",), ("delivered", "expanded"), ("delayed", "relayed")):
        chosen = next((block for block in recipients if (_field(block, "Action") or "").lower() in wanted), None)
        if chosen is not None:
            action = (_field(chosen, "Action") or "").lower()
            break
    mta = (_after_type(_field(envelope, "Reporting-MTA")) or None) if envelope is not None else None
    if chosen is None:
        return Receipt("dsn", original, None, "", "", None, "", reporting_mta=mta)
    found = _CODE.search(_field(chosen, "Status") or "")
    code = ".".join(found.groups()) if found else ""
    diagnostic = _remote(_after_type(_field(chosen, "Diagnostic-Code")))
    recipient = _address(_field(chosen, "Final-Recipient"))
    named = _address(_field(chosen, "Original-Recipient"))
    if action == "failed":
        return Receipt("dsn", original, "failed", code, diagnostic, recipient, dsn_reason(code), named, None, mta)
    status = "delivered" if action in ("delivered", "expanded") else None
    return Receipt("dsn", original, status, code, diagnostic, recipient, "", named, None, mta)


def _mdn(blocks: list[Message], fallback: str | None) -> Receipt:
    """Read an MDN's Disposition (RFC 8098 §3.2.6, with the older types and modifiers of RFC 2298 and 3798)."""
    fields = blocks[0]
    for block in blocks[1:]:  # a notification is one block; tolerate a blank line inside it
        for name, value in block.items():
            if fields.get(name) is None:
                fields[name] = value
    original = _message_id(_field(fields, "Original-Message-ID")) or fallback
    recipient = _address(_field(fields, "Final-Recipient"))
    named = _address(_field(fields, "Original-Recipient"))
    _, _, disposition = (_field(fields, "Disposition") or "").partition(";")
    head, _, inline = disposition.partition(":")  # the ANS puts the error inline: "processed/Error: 902^..."
    shape = re.fullmatch(r"\s*([a-z-]+)\s*(?:/\s*([a-z0-9, -]*?))?\s*", _COMMENT.sub(" ", head).lower())
    if shape is None:
        return Receipt("mdn", original, None, "", "", recipient, "", named)
    kind, modifiers = shape.group(1), {m.strip() for m in (shape.group(2) or "").split(",") if m.strip()}
    code = kind + (f"/{','.join(sorted(modifiers))}" if modifiers else "")
    error = " ".join(inline.split()) or _field(fields, "Error") or _field(fields, "Failure") or ""
    error = _remote(error)
    if modifiers & {"error", "failed", "failure"} or kind in ("failed", "denied", "deleted"):
        return Receipt("mdn", original, "refused", code, error, recipient, mdn_reason(kind, error), named)
    status = {"displayed": "read", "processed": "delivered", "dispatched": "delivered"}.get(kind)
    return Receipt("mdn", original, status, code, error, recipient, "", named)


# RFC 3463 enhanced status codes, by subject and detail, as the CPTS reads them.
_DSN_DETAILS = {
    (1, 1): "adresse inconnue chez l'opérateur du destinataire",
    (1, 10): "adresse inconnue chez l'opérateur du destinataire",
    (1, 2): "domaine de messagerie du destinataire introuvable",
    (1, 6): "le destinataire a changé d'adresse",
    (2, 1): "boîte aux lettres du destinataire désactivée",
    (2, 2): "boîte aux lettres du destinataire pleine",
    (3, 4): "message trop volumineux pour le destinataire",
    (4, 7): "délai de remise dépassé",
    (7, 1): "remise refusée par la messagerie du destinataire",
}
_DSN_SUBJECTS = {
    1: "adresse du destinataire refusée",
    2: "boîte aux lettres du destinataire indisponible",
    3: "messagerie du destinataire indisponible",
    4: "acheminement impossible",
    5: "échange refusé par le serveur du destinataire",
    6: "contenu du message refusé",
    7: "remise refusée pour raison de sécurité",
}


def dsn_reason(code: str) -> str:
    """Explain in French why a mail server gave up a message, from its enhanced status code (RFC 3463)."""
    parts = [int(p) for p in code.split(".")] if code else []
    label = "message non remis"
    if len(parts) == 3:
        label = _DSN_DETAILS.get((parts[1], parts[2])) or _DSN_SUBJECTS.get(parts[1], label)
    return f"{label} ({code})" if code else label


def mdn_reason(kind: str, error: str) -> str:
    """Explain in French, in our words only, why the recipient's software refused a message (its own words are
    the receipt's `remote_words`, shown quoted apart)."""
    if kind == "deleted":
        return "message supprimé par le destinataire sans avoir été traité"
    code, _, rest = error.partition("^")
    if rest and code.strip().isdigit() and len(code.strip()) <= 6:  # an HL7 error (ERR-3): code^label^table|severity
        return f"le logiciel du médecin traitant n'a pas pu intégrer le document (erreur {code.strip()})"
    if error:
        return "le logiciel du médecin traitant a signalé une erreur"
    return "le logiciel du médecin traitant a signalé une erreur, sans la préciser"


def _blocks(part: Message) -> list[Message]:
    """Return the groups of fields of a report part, however the mail parser took it in."""
    payload = part.get_payload()
    if isinstance(payload, str):
        return _split(_decoded(part, payload))
    blocks: list[Message] = []
    for sub in payload:
        if not isinstance(sub, Message):
            continue
        if len(sub):
            blocks.append(sub)
        body = sub.get_payload()
        if isinstance(body, str) and body.strip():
            # Fields after the first blank line (a report the parser read as one message), or the whole report
            # when a transfer encoding hid its fields from the parser.
            blocks += _split(_decoded(part, body) if not len(sub) else body)
    return blocks


def _decoded(part: Message, text: str) -> str:
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    try:
        if encoding == "base64":
            return base64.b64decode(text).decode("utf-8", "replace")
        if encoding == "quoted-printable":
            return quopri.decodestring(text.encode("ascii", "replace")).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""
    return text


def _split(text: str) -> list[Message]:
    chunks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
    return [block for block in (email.message_from_string(chunk.strip() + "\n") for chunk in chunks if chunk.strip()) if len(block)]


def _field(block: Message | None, name: str) -> str | None:
    """Return a field's value, unfolded, encoded words decoded, or None."""
    if block is None:
        return None
    value = block.get(name)
    if value is None:
        return None
    text = str(value)
    if "=?" in text:
        with contextlib.suppress(ValueError, LookupError, UnicodeDecodeError):
            text = str(make_header(decode_header(text)))
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join(text.split()) or None


def _after_type(value: str | None) -> str:
    """Return a typed field's value without its type: 'smtp; 550 ...' → '550 ...' (RFC 3464 §2.3)."""
    if not value:
        return ""
    kind, sep, rest = value.partition(";")
    return (rest.strip() if sep and " " not in kind.strip() else value.strip())[:300]


def _address(value: str | None) -> str | None:
    """Return the address of a typed recipient field ('rfc822; Paul@X.fr' → 'paul@x.fr'), or None."""
    bare = _after_type(value).strip().strip("<>").strip().lower()
    return bare if bare.count("@") == 1 and not any(c in bare for c in ' ,;<>"') else None


def _one_address(values: list[str]) -> str | None:
    """Return the one address a From field names, lower-case; None when it names none or several."""
    found = [address for _, address in getaddresses([str(value) for value in values]) if address]
    return found[0].lower() if len(found) == 1 and found[0].count("@") == 1 else None


def _remote(text: str) -> str:
    """Return a remote's words fit to be shown: no invisible or control characters, at most 300 characters."""
    return "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc", "Co", "Cs")).strip()[:300]


def _message_id(value: str | None) -> str | None:
    """Return '<id>' from a field holding one (spaces inside dropped, as some clients add them)."""
    if not value:
        return None
    found = _ID.findall(value)
    if found:
        return "<" + "".join(found[-1].split()) + ">"
    bare = "".join(value.split())
    return f"<{bare}>" if "@" in bare else None


def _xtext(value: str | None) -> str | None:
    """Decode an RFC 3461 xtext ('+3C' is '<')."""
    if not value:
        return None
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)


def _returned_id(parts: list[Message]) -> str | None:
    """Return the Message-ID of the returned message or of its returned headers, if the report carries them."""
    for part in parts:
        kind = part.get_content_type()
        if kind not in (*RETURNED_TYPES, *HEADER_TYPES):
            continue
        payload = part.get_payload()
        if isinstance(payload, list):  # parsed as a message: its own headers
            headers = next((sub for sub in payload if isinstance(sub, Message)), None)
        else:  # text/rfc822-headers: lines of headers, perhaps transfer-encoded
            raw = part.get_payload(decode=True)
            headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw) if isinstance(raw, bytes) else None
        found = _message_id(_field(headers, "Message-ID"))
        if found:
            return found
    return None


def _replied_to(message: Message) -> str | None:
    """Return the message an MDN answers, from its In-Reply-To or last References entry (when its fields say none)."""
    return _message_id(_field(message, "In-Reply-To")) or _message_id((_field(message, "References") or "").split(" ")[-1])
