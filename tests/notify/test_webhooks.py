"""Twilio's delivery callbacks: signed, moving an SMS's status only forward."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from dispatch import create_app
from dispatch.db import db
from dispatch.notify.inbox import Recorder
from dispatch.notify.models import OutboxMessage
from dispatch.requests.models import Event
from dispatch.runtime import Ports
from dispatch.wiring import senders
from tests.conftest import TEST_SETTINGS, serving
from tests.notify.conftest import PUBLIC_URL, Live

PATH = "/api/v1/webhooks/twilio/status"


def patient_sms(live: Live) -> tuple[int, OutboxMessage]:
    make = live.make
    community = make.community()
    operator = make.member(community, "operator")
    physician = make.member(community, "physician")
    make.device(physician)
    opened = make.open(operator, community)
    assert make.accept(physician, opened["id"]).status_code == 200
    make.deliver()
    row = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "patient_appointment")).one()
    assert row.provider_id == live.twilio.messages[0].sid and row.provider_status == "queued"
    return opened["id"], row


def post(live: Live, form: dict[str, str], *, token: str | None = None, url: str | None = None) -> Any:
    signature = RequestValidator(token or live.twilio.auth_token).compute_signature(url or PUBLIC_URL + PATH, form)
    return live.app.test_client().post(PATH, data=form, headers={"X-Twilio-Signature": signature})


def callback(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": "+33612345678",
        "From": "+33700000000",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def status_of(row: OutboxMessage) -> str | None:
    db.session.expire_all()
    return db.session.get(OutboxMessage, row.id).provider_status  # type: ignore[union-attr]


def test_statuses_only_move_forward(live: Live) -> None:
    _, row = patient_sms(live)
    sid = row.provider_id or ""

    assert post(live, callback(sid, "sent")).status_code == 204
    assert status_of(row) == "sent"
    assert post(live, callback(sid, "delivered")).status_code == 204
    assert status_of(row) == "delivered"
    for late in ("sending", "sent", "queued", "undelivered"):  # late or contradicting news changes nothing
        assert post(live, callback(sid, late)).status_code == 204
        assert status_of(row) == "delivered"


def test_undelivered_is_recorded_on_the_request(live: Live) -> None:
    request_id, row = patient_sms(live)

    assert post(live, callback(row.provider_id or "", "undelivered", ErrorCode="30003")).status_code == 204

    assert status_of(row) == "undelivered"
    event = db.session.scalars(
        select(Event).where(Event.request_id == request_id, Event.type == "patient_appointment_undelivered")
    ).one()
    assert event.data == {"channel": "sms", "provider_status": "undelivered", "error_code": "30003"}


def test_a_bad_or_missing_signature_is_403(live: Live) -> None:
    _, row = patient_sms(live)
    form = callback(row.provider_id or "", "delivered")
    client = live.app.test_client()

    answers = [
        post(live, form, token="not-the-auth-token"),
        post(live, form, url="https://elsewhere.example.fr" + PATH),  # signed for another URL
        client.post(
            PATH,
            data={**form, "MessageStatus": "failed"},
            headers={"X-Twilio-Signature": RequestValidator(live.twilio.auth_token).compute_signature(PUBLIC_URL + PATH, form)},
        ),  # form changed after signing
        client.post(PATH, data=form),
    ]

    for answer in answers:
        assert answer.status_code == 403
        assert answer.mimetype == "application/problem+json" and answer.json["code"] == "bad_signature"
    assert status_of(row) == "queued"


def test_unknown_message_is_404_and_bad_fields_422(live: Live) -> None:
    unknown = post(live, callback("SM" + "f" * 32, "delivered"))
    assert unknown.status_code == 404 and unknown.mimetype == "application/problem+json"

    invalid = post(live, {"MessageSid": "SM" + "f" * 32, "MessageStatus": "exploded"})
    assert invalid.status_code == 422 and "form.MessageStatus" in invalid.json["errors"]


def test_the_callback_is_documented_as_public_and_signed(live: Live) -> None:
    spec = live.app.test_client().get("/api/v1/openapi.json").json
    operation = spec["paths"][PATH]["post"]

    assert operation["security"] == []
    assert "application/x-www-form-urlencoded" in operation["requestBody"]["content"]
    assert "X-Twilio-Signature" in operation["description"]
    forbidden = operation["responses"]["403"]
    assert "application/problem+json" in forbidden["content"]
    assert "204" in operation["responses"]


def test_a_patient_landline_is_on_the_request_for_the_operator(live: Live) -> None:
    """Twilio 21614: the patient's number is no mobile; the trail says so at once (issue 15)."""
    make = live.make
    community = make.community()
    operator = make.member(community, "operator")
    physician = make.member(community, "physician")
    make.device(physician)
    body = make.request_body(community)
    landline = "+33142685300"
    live.twilio.landline_numbers.add(landline)
    opened = make.open(operator, community, patient={**body["patient"], "phone": "01 42 68 53 00"})
    assert make.accept(physician, opened["id"]).status_code == 200
    make.deliver()

    row = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "patient_appointment")).one()
    assert (row.status, row.attempts) == ("failed", 1)  # no retry: it would never arrive
    events = make.call("GET", f"/requests/{opened['id']}/events", operator).json
    [failed] = [e for e in events if e["type"] == "patient_appointment_failed"]
    assert failed["data"]["reason"] == "not_mobile" and "21614" in failed["data"]["error"]
    assert landline not in str(failed["data"])  # the trail is also read by coordinators: no patient number in it


@pytest.mark.parametrize(
    ("statuses", "final"),
    [
        (("accepted", "scheduled", "queued", "sending", "sent", "delivered", "read"), "read"),
        (("sent", "partially_delivered", "delivered"), "partially_delivered"),
        (("scheduled", "canceled", "queued"), "canceled"),
        (("sending", "failed", "sent"), "failed"),
        (("sent", "receiving", "received"), "sent"),  # an incoming message's statuses say nothing of ours
    ],
    ids=["the-whole-path", "partially-delivered", "canceled", "failed", "inbound"],
)
def test_every_twilio_status_is_understood(live: Live, statuses: tuple[str, ...], final: str) -> None:
    _, row = patient_sms(live)
    for status in statuses:
        assert post(live, callback(row.provider_id or "", status)).status_code == 204, status
    assert status_of(row) == final


@pytest.mark.parametrize("status", ["partially_delivered", "canceled"])
def test_an_sms_that_may_lack_its_text_is_recorded_on_the_request(live: Live, status: str) -> None:
    request_id, row = patient_sms(live)

    assert post(live, callback(row.provider_id or "", status)).status_code == 204

    event = db.session.scalars(
        select(Event).where(Event.request_id == request_id, Event.type == "patient_appointment_undelivered")
    ).one()
    assert event.data["provider_status"] == status


def test_a_trailing_slash_in_the_public_url_changes_neither_the_callback_nor_its_check(
    database_url: str, ports: dict[str, Recorder]
) -> None:
    settings = {
        **TEST_SETTINGS,
        "DISPATCH_DATABASE_URL": database_url,
        "DISPATCH_SMS_BACKEND": "twilio",
        "TWILIO_AUTH_TOKEN": "auth-token",
        "DISPATCH_PUBLIC_URL": PUBLIC_URL + "/",
    }
    application = create_app(settings, ports=Ports(**ports))
    with serving(application):
        url = senders(application).sms_callback
        assert url == PUBLIC_URL + PATH  # what Twilio is given, and what it signs

        form = callback("SM" + "f" * 32, "delivered")
        signature = RequestValidator("auth-token").compute_signature(url, form)
        answer = application.test_client().post(PATH, data=form, headers={"X-Twilio-Signature": signature})

    assert answer.status_code == 404  # signature accepted; no SMS of ours bears that sid
