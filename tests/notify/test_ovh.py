"""The OVHcloud SMS adapter, with the real `ovh` library, against the local OVH peer that checks every signature; the
community's sender; the statuses read back into the outbox by the poller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from dispatch import create_app
from dispatch.db import db
from dispatch.notify.inbox import Recorder
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ovh_sms import OvhSms
from dispatch.notify.ports import Outcome, SmsMessage
from dispatch.notify.sms_status import SmsStatusPoller
from dispatch.requests.models import Event
from tests.conftest import TEST_SETTINGS, Builders, FakeClock, real_ports, serving
from tests.peers.guard import forbid_outbound
from tests.peers.ovh import OvhPeer, ovh_error

TO = "+33612345678"
DEFAULT_SENDER = "SNPDISPATCH"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_outbound(monkeypatch)


@pytest.fixture
def peer() -> Iterator[OvhPeer]:
    with OvhPeer() as running:
        yield running


def adapter(peer: OvhPeer, **changes: Any) -> OvhSms:
    settings = {
        "application_key": peer.application_key,
        "application_secret": peer.application_secret,
        "consumer_key": peer.consumer_key,
        "service": peer.service,
        "sender": DEFAULT_SENDER,
        "base_url": changes.pop("base_url", None) or peer.base,
        "timeout": (2.0, 2.0),
        **changes,
    }
    return OvhSms(**settings)


def message(sender: str | None = None, body: str = "Rendez-vous à 14 h 30 chez le Dr Martin.") -> SmsMessage:
    return SmsMessage(to=TO, body=body, idempotency_key="k-1", sender=sender)


def test_a_signed_job_is_sent_with_the_installations_sender(peer: OvhPeer) -> None:
    result = adapter(peer).send(message())

    assert result.outcome is Outcome.SENT and result.provider_id == str(peer.next_id)
    assert result.extra["status"] == "queued"
    [job] = peer.jobs()
    assert job == {
        "message": "Rendez-vous à 14 h 30 chez le Dr Martin.",
        "receivers": [TO],
        "noStopClause": True,
        "priority": "high",
        "coding": "7bit",
        "sender": DEFAULT_SENDER,
    }
    assert [call.refused for call in peer.calls] == [None]  # signature and API time checked, accepted


def test_the_communitys_sender_wins_and_without_any_ovh_answers_from_its_own_number(peer: OvhPeer) -> None:
    adapter(peer).send(message(sender="CPTSBIEVRE"))
    adapter(peer, sender=None).send(message())

    first, second = peer.jobs()
    assert first["sender"] == "CPTSBIEVRE" and "senderForResponse" not in first
    assert second["senderForResponse"] is True and "sender" not in second


def test_a_text_outside_the_gsm_alphabet_is_not_sent_as_7bit(peer: OvhPeer) -> None:
    adapter(peer).send(message(body="Fenêtre fermée"))
    assert peer.jobs()[0]["coding"] == "8bit"


@pytest.mark.parametrize(
    ("changes", "refused", "detail"),
    [
        ({"application_secret": "wrong-secret"}, "signature", "INVALID_SIGNATURE"),
        ({"consumer_key": "ck-revoked"}, "credential", "INVALID_CREDENTIAL"),
        ({"application_key": "ak-unknown"}, "credential", "INVALID_KEY"),
    ],
)
def test_a_bad_signature_or_credential_is_permanent(peer: OvhPeer, changes: dict[str, str], refused: str, detail: str) -> None:
    result = adapter(peer, **changes).send(message())

    assert result.outcome is Outcome.PERMANENT and detail in result.detail
    assert TO not in result.detail
    assert [call.refused for call in peer.calls] == [refused] and peer.jobs() == []


def test_a_client_signing_with_its_own_clock_is_refused(peer: OvhPeer) -> None:
    sms = adapter(peer)
    sms._client._time_delta = 0  # as if GET /auth/time had not been asked: the API's clock is SKEW_S ahead

    result = sms.send(message())

    assert result.outcome is Outcome.PERMANENT and "QUERY_TIME_OUT" in result.detail
    assert [call.refused for call in peer.calls] == ["timestamp"]


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [
        (ovh_error(503, "SERVICE_UNAVAILABLE", "Maintenance"), Outcome.TRANSIENT),
        (ovh_error(429, "TOO_MANY_REQUESTS", "Slow down"), Outcome.TRANSIENT),
        (ovh_error(400, "INVALID_ARGUMENT", "Invalid receiver"), Outcome.PERMANENT),
        (ovh_error(404, "NOT_FOUND", "This service does not exist"), Outcome.PERMANENT),
    ],
)
def test_answers_are_classified(peer: OvhPeer, failure: tuple[int, dict[str, Any]], outcome: Outcome) -> None:
    peer.failures.append(failure)
    assert adapter(peer).send(message()).outcome is outcome


def test_a_read_timeout_is_ambiguous_and_an_unreachable_api_is_transient(peer: OvhPeer) -> None:
    peer.delay_s = 1.5
    late = adapter(peer, timeout=(2.0, 0.5)).send(message())
    assert late.outcome is Outcome.TRANSIENT and late.extra == {"ambiguous": "true"}

    base = peer.base
    peer.stop()
    down = adapter(peer, base_url=base).send(message())
    assert down.outcome is Outcome.TRANSIENT and "ambiguous" not in down.extra


def test_statuses_are_read_from_the_job_then_the_outgoing_sms(peer: OvhPeer) -> None:
    sms = adapter(peer)
    sent = sms.send(message())
    assert sent.provider_id is not None

    assert sms.status(sent.provider_id).extra == {"status": "queued"}  # still a job
    peer.receipts[int(sent.provider_id)] = 8
    assert sms.status(sent.provider_id).extra == {"status": "sent"}
    peer.receipts[int(sent.provider_id)] = 2
    refused = sms.status(sent.provider_id)
    assert refused.extra["status"] == "undelivered" and refused.extra["error_code"] == "dlr 2 ptt 15"
    assert sms.status("999").outcome is Outcome.PERMANENT  # unknown to OVH
    assert all(call.refused is None for call in peer.calls)


@pytest.fixture
def ovh_app(database_url: str, clock: FakeClock, peer: OvhPeer) -> Iterator[Any]:
    """The app with DISPATCH_SMS_BACKEND=ovh pointed at the peer; pushes and mail recorded."""
    settings = {
        **TEST_SETTINGS,
        "DISPATCH_DATABASE_URL": database_url,
        "DISPATCH_SMS_BACKEND": "ovh",
        "OVH_APPLICATION_KEY": peer.application_key,
        "OVH_APPLICATION_SECRET": peer.application_secret,
        "OVH_CONSUMER_KEY": peer.consumer_key,
        "DISPATCH_OVH_SMS_SERVICE": peer.service,
        "DISPATCH_OVH_URL": peer.base,
        "DISPATCH_SMS_FROM": DEFAULT_SENDER,
    }
    ports = real_ports(settings, clock, push=Recorder(), mail=Recorder())
    assert isinstance(ports.sms, OvhSms) and ports.sms_status is ports.sms
    application = create_app(settings, clock=clock, ports=ports)
    with serving(application):
        try:
            yield application
        finally:
            ports.close()


def appointment_sms(make: Builders, community: Any) -> tuple[int, OutboxMessage]:
    operator = make.member(community, "operator")
    physician = make.member(community, "physician")
    make.device(physician)
    opened = make.open(operator, community)
    assert make.accept(physician, opened["id"]).status_code == 200
    make.deliver()
    db.session.expire_all()
    row = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "patient_appointment", OutboxMessage.request_id == opened["id"])
    ).one()
    return opened["id"], row


def test_each_community_signs_with_its_sender_and_statuses_come_back_into_the_outbox(
    ovh_app: Any, clock: FakeClock, peer: OvhPeer
) -> None:
    make = Builders(ovh_app, ovh_app.test_client(), clock)
    own = make.community("CPTS Bièvre")
    own.sms_sender = "CPTSBIEVRE"
    plain = make.community("CPTS Sans Émetteur")
    db.session.commit()
    first_id, first = appointment_sms(make, own)
    second_id, second = appointment_sms(make, plain)

    senders = {job["receivers"][0]: job.get("sender") for job in peer.jobs()}
    assert [job.get("sender") for job in peer.jobs()] == ["CPTSBIEVRE", DEFAULT_SENDER], senders
    assert first.status == "sent" and first.provider_status == "queued" and first.provider_id

    poller = SmsStatusPoller(ovh_app.extensions["dispatch"].ports.sms_status, provider="ovh")
    peer.receipts[int(first.provider_id or 0)] = 1
    peer.receipts[int(second.provider_id or 0)] = 16
    assert poller.poll(now=clock.now(), hooks=ovh_app.extensions["dispatch.hooks"]) == 2

    db.session.expire_all()
    assert db.session.get(OutboxMessage, first.id).provider_status == "delivered"  # type: ignore[union-attr]
    failed = db.session.get(OutboxMessage, second.id)
    assert failed is not None and failed.provider_status == "failed" and failed.last_error == "ovh failed (error dlr 16 ptt 15)"
    kinds = set(db.session.scalars(select(Event.type).where(Event.request_id == second_id)))
    assert "patient_appointment_undelivered" in kinds
    # Final statuses are not asked about again.
    asked = len(peer.calls)
    assert poller.poll(now=clock.now(), hooks=ovh_app.extensions["dispatch.hooks"]) == 0 and len(peer.calls) == asked
    assert first_id != second_id
