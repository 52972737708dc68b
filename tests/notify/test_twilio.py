"""The Twilio SMS adapter, with the real twilio client, against the local Twilio peer; and phones."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from dispatch import texts
from dispatch.gsm7 import segments
from dispatch.notify.ports import Outcome, SmsMessage
from dispatch.notify.twilio_sms import TwilioSms
from dispatch.phones import is_mobile, normalize_phone
from tests.notify.test_sms_texts import LINK, NOW, PHYSICIAN, PLACE, TOWN
from tests.peers.guard import forbid_outbound
from tests.peers.twilio import TOO_MANY_REQUESTS, UNAVAILABLE, TwilioPeer

SENDER = "+33700000000"
TO = "+33612345678"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_outbound(monkeypatch)


@pytest.fixture
def peer() -> Iterator[TwilioPeer]:
    with TwilioPeer() as running:
        yield running


@pytest.fixture
def sms(peer: TwilioPeer) -> Iterator[TwilioSms]:
    with TwilioSms(peer.account_sid, peer.auth_token, SENDER, base_url=peer.url, timeout=5.0) as adapter:
        yield adapter


def message(to: str = TO, callback: str | None = None) -> SmsMessage:
    return SmsMessage(to=to, body="Demande SNP 42 à Lyon : ouvrez l'application.", idempotency_key="k-1", status_callback=callback)


def test_sms_is_sent_with_the_provider_sid(peer: TwilioPeer, sms: TwilioSms) -> None:
    result = sms.send(message())

    assert result.outcome is Outcome.SENT
    assert result.provider_id is not None and re.fullmatch(r"SM[0-9a-f]{32}", result.provider_id)
    assert result.extra == {"status": "queued", "segments": "1"}
    [sent] = peer.messages
    assert sent.sid == result.provider_id
    assert sent.form["To"] == TO
    assert sent.form["From"] == SENDER
    assert sent.form["Body"] == "Demande SNP 42 à Lyon : ouvrez l'application."
    assert "StatusCallback" not in sent.form


def test_status_callback_is_passed_through(peer: TwilioPeer, sms: TwilioSms) -> None:
    sms.send(message(callback="https://dispatch.example/api/v1/hooks/twilio/status"))

    [sent] = peer.messages
    assert sent.form["StatusCallback"] == "https://dispatch.example/api/v1/hooks/twilio/status"


def test_bad_credentials_are_permanent(peer: TwilioPeer, caplog: pytest.LogCaptureFixture) -> None:
    with TwilioSms(peer.account_sid, "wrong-token", SENDER, base_url=peer.url) as adapter:
        result = adapter.send(message())

    assert result.outcome is Outcome.PERMANENT
    assert "401" in result.detail
    assert any(r.levelname == "ERROR" for r in caplog.records)
    assert peer.messages == []


@pytest.mark.parametrize("failure", [UNAVAILABLE, TOO_MANY_REQUESTS], ids=["503", "429"])
def test_outage_and_throttling_are_transient(peer: TwilioPeer, sms: TwilioSms, failure: tuple) -> None:
    peer.fail_next(1, failure)

    first = sms.send(message())
    second = sms.send(message())

    assert first.outcome is Outcome.TRANSIENT
    assert second.outcome is Outcome.SENT
    assert len(peer.calls) == 2  # no retry inside the client


def test_invalid_number_is_permanent_and_not_logged(peer: TwilioPeer, sms: TwilioSms, caplog: pytest.LogCaptureFixture) -> None:
    peer.invalid_numbers.add("+33699999999")

    result = sms.send(message(to="+33699999999"))

    assert result.outcome is Outcome.PERMANENT
    assert "21211" in result.detail
    assert "+33699999999" not in caplog.text + result.detail
    assert "Lyon" not in caplog.text


def test_unreachable_provider_is_transient() -> None:
    with TwilioPeer() as gone:
        url, sid, token = gone.url, gone.account_sid, gone.auth_token
    with TwilioSms(sid, token, SENDER, base_url=url, timeout=2.0) as adapter:
        result = adapter.send(message())

    assert result.outcome is Outcome.TRANSIENT


def test_from_config_needs_account_token_and_sender(peer: TwilioPeer) -> None:
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        TwilioSms.from_config({"TWILIO_ACCOUNT_SID": peer.account_sid, "DISPATCH_SMS_FROM": SENDER})
    adapter = TwilioSms.from_config(
        {
            "TWILIO_ACCOUNT_SID": peer.account_sid,
            "TWILIO_AUTH_TOKEN": peer.auth_token,
            "DISPATCH_SMS_FROM": SENDER,
            "DISPATCH_TWILIO_URL": peer.url,
        }
    )
    with adapter:
        assert adapter.send(message()).outcome is Outcome.SENT


def test_region_and_edge_from_the_environment_still_reach_the_base_url(peer: TwilioPeer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    with TwilioSms(peer.account_sid, peer.auth_token, SENDER, base_url=peer.url) as adapter:
        assert adapter.send(message()).outcome is Outcome.SENT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("0612345678", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+33612345678", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("0033612345678", "+33612345678"),
        ("01 42 68 53 00", "+33142685300"),
        ("+32 470 12 34 56", "+32470123456"),
        # overseas departments written the French national way: their own country code (issue 15)
        ("0690 12 34 56", "+590690123456"),  # Guadeloupe, mobile
        ("0590 27 12 34", "+590590271234"),  # Guadeloupe, landline
        ("0692 12 34 56", "+262692123456"),  # La Réunion, mobile
        ("0262 20 12 34", "+262262201234"),  # La Réunion, landline
        ("0694 12 34 56", "+594694123456"),  # Guyane, mobile
        ("0594 30 12 34", "+594594301234"),  # Guyane, landline
        ("0696 12 34 56", "+596696123456"),  # Martinique, mobile
        ("0596 60 12 34", "+596596601234"),  # Martinique, landline
        ("0639 69 12 34", "+262639691234"),  # Mayotte, mobile
        ("0269 61 12 34", "+262269611234"),  # Mayotte, landline
        ("+590 690 12 34 56", "+590690123456"),
        ("00262 692 12 34 56", "+262692123456"),
    ],
)
def test_normalize_phone(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["0690 12 34 56", "0692123456", "0694123456", "0696123456", "0639691234"])
def test_overseas_mobiles_can_receive_sms(raw: str) -> None:
    assert is_mobile(normalize_phone(raw))


@pytest.mark.parametrize("raw", ["0612", "06 12 34 56 7", "abc", "06 12 34 56 7a", "", "   ", "+33 12"])
def test_normalize_phone_rejects_invalid_numbers(raw: str) -> None:
    with pytest.raises(ValueError, match="Numéro de téléphone invalide"):
        normalize_phone(raw)


def test_is_mobile() -> None:
    assert is_mobile("+33612345678")
    assert is_mobile("+33756123456")
    assert not is_mobile("+33142685300")
    assert not is_mobile("not a number")


def test_a_landline_is_permanent_and_says_so(peer: TwilioPeer, sms: TwilioSms, caplog: pytest.LogCaptureFixture) -> None:
    peer.landline_numbers.add("+33142685300")

    result = sms.send(message(to="+33142685300"))

    assert result.outcome is Outcome.PERMANENT
    assert result.detail == "http 400 code 21614 (not_mobile)" and result.extra == {"reason": "not_mobile"}
    assert "+33142685300" not in caplog.text + result.detail


def longest_texts() -> list[tuple[str, str, int]]:
    """Return (template, text, most segments allowed) for each SMS at its longest realistic values."""
    deadline, appointment = datetime(2026, 9, 22, 14, 30, tzinfo=UTC), datetime(2026, 9, 23, 14, 30, tzinfo=UTC)
    offers = [
        texts.offer_sms(request_id=123456, motive=motive, city=TOWN, deadline=deadline, tz="Europe/Paris", link=LINK)
        for motive in texts.MOTIVE_LABELS
    ]
    operators = [texts.operator_expired_sms(request_id=123456, motive=motive) for motive in texts.MOTIVE_LABELS]
    patient = texts.patient_sms(physician_name=PHYSICIAN, appointment_at=appointment, place=PLACE, tz="Europe/Paris", now=NOW)
    return [
        ("offer", max(offers, key=len), 1),
        ("patient_appointment", patient, 2),
        ("operator_expired", max(operators, key=len), 1),
    ]


@pytest.mark.parametrize(("template", "body", "most"), longest_texts(), ids=lambda value: value if isinstance(value, str) else "")
def test_each_sms_template_takes_the_segments_twilio_reports(
    peer: TwilioPeer, sms: TwilioSms, template: str, body: str, most: int
) -> None:
    result = sms.send(SmsMessage(to=TO, body=body, idempotency_key=template))

    assert result.outcome is Outcome.SENT
    assert int(result.extra["segments"]) == segments(body) <= most, (template, len(body), body)
