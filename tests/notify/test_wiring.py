"""Adapters chosen at start: real backends close cleanly, and a backend without credentials stops the service."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dispatch import create_app
from dispatch.cli import main
from dispatch.notify.fcm import FcmPush
from dispatch.notify.inbox import Recorder
from dispatch.notify.twilio_sms import TwilioSms
from dispatch.runtime import Ports
from dispatch.wiring import ConfigurationError
from tests.conftest import TEST_SETTINGS, serving
from tests.notify.conftest import Live


def test_real_backends_are_closed_by_the_runtime(live: Live) -> None:
    runtime = live.runtime
    assert isinstance(runtime.push, FcmPush) and isinstance(runtime.sms, TwilioSms)
    assert runtime.push.close in runtime.ports.closers and runtime.sms.close in runtime.ports.closers


RELAY = {"DISPATCH_MAIL_SMTP_HOST": "127.0.0.1", "DISPATCH_MAIL_SMTP_SECURITY": "none"}  # the ordinary mail's relay


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({"DISPATCH_PUSH_BACKEND": "fcm"}, "DISPATCH_FCM_CREDENTIALS"),
        ({"DISPATCH_PUSH_BACKEND": "fcm", "DISPATCH_FCM_URL": "http://127.0.0.1:9"}, "DISPATCH_FCM_PROJECT"),
        (
            {
                "DISPATCH_SMS_BACKEND": "twilio",
                "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
                "DISPATCH_PUBLIC_URL": "https://snp.example.fr",
            },
            "TWILIO_AUTH_TOKEN",
        ),
        ({"DISPATCH_SMS_BACKEND": "sms-magic"}, "DISPATCH_SMS_BACKEND='sms-magic'"),
        ({"DISPATCH_MAIL_BACKEND": "smtp", "DISPATCH_SMTP_HOST": "127.0.0.1", **RELAY}, "DISPATCH_CUSTODIAN_ID"),
        (
            {
                "DISPATCH_MAIL_BACKEND": "smtp",
                "DISPATCH_SMTP_HOST": "127.0.0.1",
                "DISPATCH_CUSTODIAN_ID": "12345678901234",
                **RELAY,
            },
            "DISPATCH_CUSTODIAN_ID",
        ),
        ({"DISPATCH_MAIL_BACKEND": "smtp", "DISPATCH_SMTP_HOST": "127.0.0.1"}, "DISPATCH_MAIL_SMTP_HOST"),
    ],
    ids=[
        "fcm-nothing",
        "fcm-no-project",
        "twilio-no-token",
        "unknown-backend",
        "smtp-no-custodian",
        "smtp-bad-custodian",
        "smtp-no-relay",
    ],
)
def test_a_backend_without_its_settings_stops_the_factory(database_url: str, settings: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigurationError, match=missing) as caught:
        create_app({**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url, **settings})
    assert "le service ne démarre pas" in caught.value.message  # the typed settings, or the adapter that needs them


def broken_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DISPATCH_", "TWILIO_"))}
    env.update(
        {
            "DISPATCH_ENV": "development",
            "DISPATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DISPATCH_SECRET_KEY": "k",
            "DISPATCH_SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "DISPATCH_SMS_FROM": "+33700000000",
            "DISPATCH_PUBLIC_URL": "https://snp.example.fr",
        }
    )
    return env


def test_the_worker_exits_with_a_plain_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dispatch.cli", "worker"],
        env=broken_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert done.returncode == 1
    assert "configuration incomplète" in done.stderr and "TWILIO_AUTH_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_serve_exits_with_a_plain_message(tmp_path: Path) -> None:
    env = broken_env(tmp_path)
    cleared = {key: None for key in os.environ if key.startswith(("DISPATCH_", "TWILIO_")) and key not in env}
    result = CliRunner().invoke(main, ["serve", "--port", "0"], env={**cleared, **env})

    assert result.exit_code == 1
    assert "configuration incomplète" in result.output and "TWILIO_AUTH_TOKEN" in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("public_url", ["http://snp.example.fr", "http://127.0.0.1:5000", "snp.example.fr", ""])
def test_twilio_without_an_https_public_url_stops_the_factory(
    database_url: str, ports: dict[str, Recorder], public_url: str
) -> None:
    twilio = {"DISPATCH_SMS_BACKEND": "twilio", "TWILIO_AUTH_TOKEN": "t", "DISPATCH_PUBLIC_URL": public_url}
    with pytest.raises(ConfigurationError, match="doit être une adresse https") as caught:
        create_app({**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url, **twilio}, ports=Ports(**ports))
    assert "le service ne démarre pas" in caught.value.message


SMTP = {"DISPATCH_MAIL_BACKEND": "smtp", "DISPATCH_SMTP_HOST": "127.0.0.1", "DISPATCH_CUSTODIAN_ID": "312345678901234", **RELAY}


@pytest.mark.parametrize(
    ("settings", "warned"),
    [
        (SMTP, True),  # the placeholder by default
        ({**SMTP, "DISPATCH_MSSANTE_NIL": "SNP-DISPATCH"}, True),
        ({**SMTP, "DISPATCH_MSSANTE_NIL": "NIL-0042-CPTS"}, False),
        ({"DISPATCH_MAIL_BACKEND": "inbox"}, False),  # no secure message leaves the platform
    ],
    ids=["smtp-default", "smtp-placeholder", "smtp-set", "inbox"],
)
def test_the_placeholder_x_mss_nil_is_warned_of_at_start(
    database_url: str, ports: dict[str, Recorder], caplog: pytest.LogCaptureFixture, settings: dict[str, str], warned: bool
) -> None:
    with caplog.at_level(logging.WARNING, logger="dispatch.wiring"):
        application = create_app({**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url, **settings}, ports=Ports(**ports))
    with serving(application):
        pass
    warnings = [r for r in caplog.records if r.name == "dispatch.wiring" and "DISPATCH_MSSANTE_NIL" in r.getMessage()]
    assert len(warnings) == (1 if warned else 0)
    assert all(r.levelno == logging.WARNING and "X-MSS-NIL" in r.getMessage() for r in warnings)
