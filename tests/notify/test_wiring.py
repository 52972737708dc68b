"""Adapters chosen at start: real backends close cleanly, and a backend without credentials stops the service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dispatch import create_app
from dispatch.cli import main
from dispatch.notify.fcm import FcmPush
from dispatch.notify.twilio_sms import TwilioSms
from dispatch.wiring import ConfigurationError
from tests.conftest import TEST_SETTINGS
from tests.notify.conftest import Live


def test_real_backends_are_closed_by_the_runtime(live: Live) -> None:
    runtime = live.runtime
    assert isinstance(runtime.push, FcmPush) and isinstance(runtime.sms, TwilioSms)
    assert runtime.push.close in runtime.ports.closers and runtime.sms.close in runtime.ports.closers


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({"DISPATCH_PUSH_BACKEND": "fcm"}, "DISPATCH_FCM_CREDENTIALS"),
        ({"DISPATCH_PUSH_BACKEND": "fcm", "DISPATCH_FCM_URL": "http://127.0.0.1:9"}, "DISPATCH_FCM_PROJECT"),
        ({"DISPATCH_SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32}, "TWILIO_AUTH_TOKEN"),
        ({"DISPATCH_SMS_BACKEND": "sms-magic"}, "DISPATCH_SMS_BACKEND='sms-magic'"),
        ({"DISPATCH_MAIL_BACKEND": "smtp", "DISPATCH_SMTP_HOST": "127.0.0.1"}, "DISPATCH_CUSTODIAN_ID"),
        (
            {"DISPATCH_MAIL_BACKEND": "smtp", "DISPATCH_SMTP_HOST": "127.0.0.1", "DISPATCH_CUSTODIAN_ID": "12345678901234"},
            "DISPATCH_CUSTODIAN_ID",
        ),
    ],
    ids=["fcm-nothing", "fcm-no-project", "twilio-no-token", "unknown-backend", "smtp-no-custodian", "smtp-bad-custodian"],
)
def test_a_backend_without_its_settings_stops_the_factory(database_url: str, settings: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigurationError, match=missing) as caught:
        create_app({**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url, **settings})
    assert "configuration incomplète" in caught.value.message


def broken_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DISPATCH_", "TWILIO_"))}
    env.update(
        {
            "DISPATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DISPATCH_SECRET_KEY": "k",
            "DISPATCH_SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "DISPATCH_SMS_FROM": "+33700000000",
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
