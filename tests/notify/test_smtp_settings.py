"""DISPATCH_SMTP_PORT defaults to the port of DISPATCH_SMTP_SECURITY, through the real settings loader (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import settings
from dispatch.notify.smtp import SmtpMailer

ENV = {"DISPATCH_MAIL_BACKEND": "smtp", "DISPATCH_SMTP_HOST": "smtp.mssante.example", "DISPATCH_SECRET_KEY": "k"}


@pytest.mark.parametrize(
    ("environ", "port"),
    [
        ({}, 465),  # tls is the default mode
        ({"DISPATCH_SMTP_SECURITY": "tls"}, 465),
        ({"DISPATCH_SMTP_SECURITY": "starttls"}, 587),
        ({"DISPATCH_SMTP_SECURITY": "STARTTLS"}, 587),
        ({"DISPATCH_SMTP_SECURITY": "none"}, 25),
        ({"DISPATCH_SMTP_SECURITY": "starttls", "DISPATCH_SMTP_PORT": "2587"}, 2587),  # an explicit port wins
        ({"DISPATCH_SMTP_SECURITY": "tls", "DISPATCH_SMTP_PORT": ""}, 465),  # an empty variable is no setting
    ],
)
def test_the_port_follows_the_security_mode(tmp_path: Path, environ: dict[str, str], port: int) -> None:
    config = settings.load(tmp_path, environ={**ENV, "DISPATCH_DATABASE_URL": "sqlite://", **environ})
    assert int(config["DISPATCH_SMTP_PORT"]) == port
    mailer = SmtpMailer.from_config(config)
    assert mailer.port == port


def test_overrides_choose_the_mode_too(tmp_path: Path) -> None:
    config = settings.load(tmp_path, {"DISPATCH_SMTP_SECURITY": "starttls"}, environ={**ENV, "DISPATCH_DATABASE_URL": "sqlite://"})
    assert config["DISPATCH_SMTP_PORT"] == 587  # typed (config/variables.py)


def test_an_unknown_mode_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(settings.SettingsError, match="DISPATCH_SMTP_SECURITY='ssl' : valeur attendue parmi : tls, starttls, none"):
        settings.load(tmp_path, environ={**ENV, "DISPATCH_DATABASE_URL": "sqlite://", "DISPATCH_SMTP_SECURITY": "ssl"})
    with pytest.raises(ValueError, match="DISPATCH_SMTP_SECURITY"):  # the adapter still refuses a mode it cannot speak
        SmtpMailer.from_config({**ENV, "DISPATCH_SMTP_SECURITY": "ssl"})
