"""Issue 24 point 6: a sender killed between the SMS service's answer and its own commit never sends the patient's
SMS a second time; the row says its fate is unknown and the request's trail tells the operator. Real processes:
`dispatch worker` killed by SIGKILL while the SMS service (a loopback Twilio peer) holds the message."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.peers.twilio import TwilioPeer
from tests.system import harness

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.usefixtures("fresh")]
PATIENT = "+33612345678"


class KillingTwilio(TwilioPeer):
    """Takes the message, then kills the process that sent it before answering: a crash at the worst instant."""

    victim: int | None = None

    def answer_create(self, account_sid: str, form: dict[str, str], authorization: str | None) -> tuple[int, Any]:
        answer = super().answer_create(account_sid, form, authorization)
        if form.get("To") == PATIENT and self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None
        return answer


@pytest.fixture
def twilio() -> Iterator[KillingTwilio]:
    with KillingTwilio() as peer:
        yield peer


def test_a_worker_killed_after_the_sms_service_took_the_patients_sms_does_not_send_it_again(
    web: harness.Api, pg_url: str, logs: Path, clock_file: Any, twilio: KillingTwilio, env: dict[str, str]
) -> None:
    sms_env = {
        **env,
        "DISPATCH_SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "DISPATCH_SMS_FROM": "+33700000001",
        "DISPATCH_TWILIO_URL": twilio.url,
        "DISPATCH_PUBLIC_URL": "https://snp.cpts-test.fr",  # where Twilio would call back with statuses
    }
    world = harness.seed_world(pg_url, physicians=1)
    doomed = harness.start_worker(sms_env, logs, pg_url, name="doomed")
    twilio.victim = doomed.pid
    status, opened = web.call("POST", "/requests", world.operator.token, world.request_body())
    assert status == 201, opened
    physician = world.physicians[0]
    at = harness.query(pg_url, "SELECT now() + interval '1 hour'")[0][0].isoformat()
    status, accepted = web.call("POST", f"/requests/{opened['id']}/accept", physician.token, {"appointment_at": at})
    assert status == 200, accepted

    harness.wait_for(lambda: not doomed.alive(), timeout=30, what="the worker killed by the SMS service")
    doomed.stop()
    assert [m.form["To"] for m in twilio.messages].count(PATIENT) == 1
    [(state, mark)] = harness.query(
        pg_url, "SELECT status, provider_status FROM outbox WHERE kind = 'patient_appointment' AND request_id = :r", r=opened["id"]
    )
    assert (state, mark) == ("sending", "submitting")  # the answer never reached the database

    clock_file.jump(31)  # past the claim's 30 s lease: another worker takes the row over
    survivor = harness.start_worker(sms_env, logs, pg_url, name="survivor")
    try:
        harness.wait_for(
            lambda: harness.query(
                pg_url, "SELECT status, provider_status FROM outbox WHERE kind = 'patient_appointment' AND request_id = :r",
                r=opened["id"],
            ) == [("failed", "unknown")],
            timeout=30,
            what="the row given up as unknown",
        )  # fmt: skip
    finally:
        survivor.stop()
    assert [m.form["To"] for m in twilio.messages].count(PATIENT) == 1  # never twice
    events = [t for (t,) in harness.query(pg_url, "SELECT type FROM events WHERE request_id = :r", r=opened["id"])]
    assert "patient_appointment_failed" in events  # the operator sees it on the request and calls the patient
