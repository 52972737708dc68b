"""The reports a secure message brings back, read from samples shaped as real software writes them.

tests/notify/receipts/ holds them, with $placeholders for the addresses and ids:
- postfix_failed.eml, postfix_delivered.eml, postfix_delayed.eml: Postfix's bounce(8) notices (its templates'
  texts, `message/delivery-status` then `text/rfc822-headers`), for a failure, a success asked by NOTIFY=SUCCESS
  (with the ENVID we send) and a delay warning;
- exchange_failed.eml: an Exchange Online non-delivery report (the report inside a `multipart/alternative`
  sibling, `5.1.10 RESOLVER.ADR.RecipientNotFound`, the message returned as `message/rfc822`);
- thunderbird_displayed.eml: Thunderbird's read receipt (MDNPart2.txt, MDNPart3.txt);
- mssante_processed.eml, mssante_error.eml: an MSSanté health software's MDN after integrating the document, or
  failing to (`processed/Error: 902^Identifiant de patient inconnu^...`, the ANS's "structure du MDN", with the
  space inside Original-Message-ID that its own example has).
"""

from __future__ import annotations

import base64
from pathlib import Path
from string import Template

import pytest

from dispatch.notify.receipts import Receipt, doubt, is_report, parse_receipt

SAMPLES = Path(__file__).parent / "receipts"
PLATFORM = "snp-dispatch@cpts-test.mssante.fr"
GP = "paul.durand@medecin.mssante.fr"
ORIGINAL = "<synthesis-7@cpts-test.mssante.fr>"
NB = "\u00a0"


def sample(name: str, **values: str) -> bytes:
    """Return a sample with its placeholders filled, as the bytes a mailbox would hold (CRLF line ends)."""
    fields = {
        "platform": PLATFORM,
        "recipient": GP,
        "original_id": ORIGINAL,
        "spaced_id": ORIGINAL.replace(">", " >"),
        "envid": "<synthesis-7@cpts-test.mssante.fr>",
        **values,
    }
    text = Template((SAMPLES / name).read_text(encoding="utf-8")).substitute(fields)
    return text.replace("\n", "\r\n").encode("utf-8")


@pytest.mark.parametrize(
    ("name", "kind", "status", "code"),
    [
        ("postfix_failed.eml", "dsn", "failed", "5.1.1"),
        ("postfix_delivered.eml", "dsn", "delivered", "2.0.0"),
        ("postfix_delayed.eml", "dsn", None, "4.4.1"),
        ("exchange_failed.eml", "dsn", "failed", "5.1.10"),
        ("thunderbird_displayed.eml", "mdn", "read", "displayed"),
        ("mssante_processed.eml", "mdn", "delivered", "processed"),
        ("mssante_error.eml", "mdn", "refused", "processed/error"),
    ],
)
def test_each_sample_names_its_message_and_says_what_became_of_it(name: str, kind: str, status: str | None, code: str) -> None:
    receipt = parse_receipt(sample(name))
    assert receipt is not None
    assert (receipt.kind, receipt.original_id, receipt.status, receipt.code) == (kind, ORIGINAL, status, code)
    assert receipt.recipient == GP


def test_a_bounce_explains_itself_in_french_and_keeps_the_servers_words() -> None:
    postfix = parse_receipt(sample("postfix_failed.eml"))
    assert postfix is not None
    assert postfix.reason == "adresse inconnue chez l'opérateur du destinataire (5.1.1)"
    assert postfix.diagnostic == (
        f"550 5.1.1 <{GP}>: Recipient address rejected: User unknown in virtual mailbox table"  # unfolded
    )
    # The server's words quoted as theirs, after ours (issue 23 point 3)
    assert postfix.explained == (
        f"adresse inconnue chez l'opérateur du destinataire (5.1.1). Réponse du serveur de messagerie, telle quelle{NB}: "
        f"«{NB}{postfix.diagnostic}{NB}»"
    )
    assert GP not in postfix.reason  # the reason goes where the address may not (an anonymised trail)
    exchange = parse_receipt(sample("exchange_failed.eml"))
    assert exchange is not None and exchange.reason == "adresse inconnue chez l'opérateur du destinataire (5.1.10)"
    assert exchange.diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found")


def test_an_mssante_refusal_gives_the_softwares_error_code_and_label() -> None:
    receipt = parse_receipt(sample("mssante_error.eml"))
    assert receipt is not None
    # Our reason has none of the remote's words: they are quoted apart, as the GP's software's (issue 23 point 3).
    assert receipt.reason == "le logiciel du médecin traitant n'a pas pu intégrer le document (erreur 902)"
    assert receipt.diagnostic == "902^Identifiant de patient inconnu^messageErrorCondition| E^Error^errorSeverity"
    assert receipt.explained == (
        f"{receipt.reason}. Réponse du logiciel du médecin traitant, telle quelle{NB}: «{NB}Identifiant de patient inconnu{NB}»"
    )


def test_nothing_of_the_human_readable_parts_or_the_returned_message_is_kept() -> None:
    # The subject and the first part of an MSSanté MDN name the patient (ANS: "XDM/1.0/DDM+<libellé> <NOM> <prénom>").
    for name in SAMPLES.glob("*.eml"):
        receipt = parse_receipt(sample(name.name))
        assert receipt is not None
        for value in (receipt.reason, receipt.diagnostic, receipt.explained):
            assert "MARTIN" not in value and "Lucie" not in value and "02/04/1988" not in value


def _mdn(disposition: str, *, encoding: str = "7bit", extra: str = "", original: str = ORIGINAL) -> bytes:
    fields = f"Reporting-UA: webmail.example.fr\r\nFinal-Recipient: rfc822;{GP}\r\n"
    fields += f"Original-Message-ID: {original}\r\nDisposition: {disposition}\r\n{extra}"
    body = base64.encodebytes(fields.encode()).decode() if encoding == "base64" else fields
    return (
        f"From: {GP}\r\nTo: {PLATFORM}\r\nSubject: Lu\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nVotre message a été lu.\r\n"
        f"--b\r\nContent-Type: message/disposition-notification\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
        f"{body}\r\n--b--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("disposition", "extra", "status", "reason"),
    [
        ("manual-action/MDN-sent-manually; displayed", "", "read", ""),
        ("automatic-action/MDN-sent-automatically; dispatched", "", "delivered", ""),
        ("manual-action/MDN-sent-manually; deleted", "", "refused", "message supprimé par le destinataire sans avoir été traité"),
        (
            "automatic-action/MDN-sent-automatically; processed/error",
            "Error: document illisible\r\n",
            "refused",
            "le logiciel du médecin traitant a signalé une erreur",
        ),
        (
            "automatic-action/MDN-sent-automatically; processed/error",
            "",
            "refused",
            "le logiciel du médecin traitant a signalé une erreur, sans la préciser",
        ),
        ("Automatic-Action/MDN-Sent-Automatically; Displayed (read by the user)", "", "read", ""),  # case, a comment
        ("automatic-action/MDN-sent-automatically; failed", "Failure: virus found\r\n", "refused", None),  # RFC 2298
        ("automatic-action/MDN-sent-automatically; denied", "", "refused", None),  # RFC 2298
        ("automatic-action/MDN-sent-automatically; something-new", "", None, ""),
    ],
)
def test_dispositions_old_and_new(disposition: str, extra: str, status: str | None, reason: str | None) -> None:
    receipt = parse_receipt(_mdn(disposition, extra=extra))
    assert receipt is not None and receipt.status == status
    if reason is not None:
        assert receipt.reason == reason


def test_a_transfer_encoded_notification_is_read_too() -> None:
    receipt = parse_receipt(_mdn("manual-action/MDN-sent-manually; displayed", encoding="base64"))
    assert receipt is not None and (receipt.status, receipt.original_id) == ("read", ORIGINAL)


def test_a_delivery_report_without_returned_headers_is_named_by_its_envelope_id() -> None:
    raw = sample("postfix_delivered.eml", envid="+3Csynthesis-9@cpts-test.mssante.fr+3E").decode()
    raw = raw.split("--7C1D02A11B.1795444863/mx.medecin.mssante.fr\r\nContent-Description: Message Headers")[0]
    receipt = parse_receipt((raw + "--7C1D02A11B.1795444863/mx.medecin.mssante.fr--\r\n").encode())
    assert receipt is not None and (receipt.status, receipt.original_id) == ("delivered", "<synthesis-9@cpts-test.mssante.fr>")


def test_a_receipt_naming_no_message_still_says_what_it_reports() -> None:
    receipt = parse_receipt(_mdn("manual-action/MDN-sent-manually; displayed", original=""))
    assert receipt == Receipt("mdn", None, "read", "displayed", "", GP, "", sender=GP)


def test_the_worst_recipient_decides_a_report_about_several() -> None:
    raw = sample("postfix_failed.eml").decode()
    two = raw.replace(
        "Final-Recipient: rfc822; ",
        "Final-Recipient: rfc822; secretariat@cabinet.mssante.fr\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n"
        "Final-Recipient: rfc822; ",
        1,
    )
    receipt = parse_receipt(two.encode())
    assert receipt is not None and (receipt.status, receipt.recipient) == ("failed", GP)


@pytest.mark.parametrize(
    "raw",
    [
        b"From: paul.durand@medecin.mssante.fr\r\nSubject: Re: Synthese\r\nIn-Reply-To: <synthesis-7@x>\r\n\r\nMerci !\r\n",
        b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nabuse\r\n--b\r\nContent-Type: message/feedback-report\r\n\r\n"
        b"Feedback-Type: abuse\r\n\r\n--b--\r\n",
        b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b--\r\n',
        b"\x00\xff garbage",
    ],
    ids=["a reply", "an abuse report", "an empty report", "garbage"],
)
def test_what_is_no_dsn_or_mdn_reads_as_nothing(raw: bytes) -> None:
    assert parse_receipt(raw) is None


def test_reports_are_told_by_their_content_type_alone() -> None:
    assert is_report('multipart/report; report-type=delivery-status; boundary="x"')
    assert is_report("Multipart/Report;report-type=disposition-notification")
    assert not is_report("multipart/mixed; boundary=x") and not is_report("")


def test_who_a_report_comes_from_and_whom_it_names_are_read() -> None:
    postfix = parse_receipt(sample("postfix_failed.eml"))
    assert postfix is not None
    assert (postfix.sender, postfix.reporting_mta) == ("mailer-daemon@smtp.operateur-mss.fr", "smtp.operateur-mss.fr")
    assert (postfix.recipient, postfix.original_recipient) == (GP, GP)
    mdn = parse_receipt(sample("thunderbird_displayed.eml"))
    assert mdn is not None and (mdn.sender, mdn.recipient, mdn.reporting_mta) == (GP, GP, None)


@pytest.mark.parametrize(
    ("name", "changes", "doubt_said"),
    [
        ("thunderbird_displayed.eml", {}, None),
        ("mssante_error.eml", {b"From: " + GP.encode(): b"From: mallory@evil.mssante.fr"}, "not from the recipient"),
        ("mssante_error.eml", {b"From: " + GP.encode(): b"From: " + GP.encode() + b", mallory@evil.fr"}, "not from the recipient"),
        (
            "mssante_error.eml",
            {b"rfc822;" + GP.encode(): b"rfc822;x@y.fr", b"rfc822; " + GP.encode(): b"rfc822; x@y.fr"},
            "names another recipient",
        ),
        ("postfix_failed.eml", {}, None),
        ("postfix_failed.eml", {b"smtp.operateur-mss.fr": b"mx.evil.example"}, "not from the platform's MSSanté operator"),
        (
            "postfix_failed.eml",
            {b"Reporting-MTA: dns; smtp.operateur-mss.fr": b"Reporting-MTA: dns; evil.example"},
            "not from the platform's MSSanté operator",
        ),
        (
            "postfix_failed.eml",
            {b"smtp.operateur-mss.fr": b"smtp.operateur-mss.fr.evil.example"},
            "not from the platform's MSSanté operator",
        ),
        (
            "postfix_failed.eml",
            {b"rfc822; " + GP.encode(): b"rfc822; x@y.fr", b"rfc822;" + GP.encode(): b"rfc822;x@y.fr"},
            "names another recipient",
        ),
    ],
)
def test_a_report_is_believed_only_from_the_right_sender_about_the_right_recipient(
    name: str, changes: dict[bytes, bytes], doubt_said: str | None
) -> None:
    raw = sample(name)
    for old, new in changes.items():
        assert old in raw
        raw = raw.replace(old, new)
    receipt = parse_receipt(raw)
    assert receipt is not None
    assert doubt(receipt, address=GP.upper(), dsn_domains=("operateur-mss.fr",)) == doubt_said


@pytest.mark.parametrize("name", ["mssante_error.eml", "postfix_failed.eml"])
def test_a_report_is_believed_only_in_the_mailbox_its_message_left_from(name: str) -> None:
    receipt = parse_receipt(sample(name))
    assert receipt is not None
    domains = ("operateur-mss.fr",)
    community, platform = "cpts-a@cpts-a.mssante.fr", "snp@cpts.mssante.fr"
    assert doubt(receipt, address=GP, dsn_domains=domains, sent_from=community, found_in=community.upper()) is None
    assert (
        doubt(receipt, address=GP, dsn_domains=domains, sent_from=community, found_in=platform)
        == "found in another mailbox than the message left from"
    )
    # Either side unknown (a row sent before the From was kept, a mailbox whose address is not said): not compared.
    assert doubt(receipt, address=GP, dsn_domains=domains, sent_from=None, found_in=platform) is None
    assert doubt(receipt, address=GP, dsn_domains=domains, sent_from=community, found_in=None) is None


def test_the_remote_words_lose_their_invisible_characters() -> None:
    receipt = parse_receipt(
        _mdn("automatic-action/MDN-sent-automatically; processed/error", extra="Error: Pay\u200bs \u202eni\r\n", encoding="base64")
    )
    assert receipt is not None and receipt.diagnostic == "Pays ni"
