"""Choose the adapters to the outside from the configuration, once, at start."""

from __future__ import annotations

from typing import Any

import click
from argon2 import PasswordHasher
from flask import Flask

from dispatch.clock import SystemClock
from dispatch.notify.inbox import InboxMail, InboxPush, InboxSms
from dispatch.notify.service import Senders
from dispatch.web import Runtime


class ConfigurationError(click.ClickException):
    """A backend was selected without what it needs: the service must not start."""

    # A ClickException: `dispatch serve` and `dispatch worker` print it plainly and exit with status 1,
    # without a traceback; anywhere else (gunicorn, tests) it is an ordinary exception.


def build_runtime(app: Flask, clock: Any = None) -> Runtime:
    """Return the runtime for `app`: clock, hasher and ports."""
    config = app.config
    clock = clock or SystemClock()
    hasher = PasswordHasher(time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_COST"])
    runtime = Runtime(clock=clock, hasher=hasher, push=InboxPush(clock.now), sms=InboxSms(clock.now),
                      mail=InboxMail(clock.now))
    try:
        _real_backends(runtime, config, clock)
    except ValueError as exc:
        for close in reversed(runtime.closers):  # what did start must not leak
            close()
        raise ConfigurationError(f"configuration incomplète, le service ne démarre pas : {exc}") from exc
    return runtime


def _real_backends(runtime: Runtime, config: Any, clock: Any) -> None:
    push, sms, mail = (config["DISPATCH_PUSH_BACKEND"], config["DISPATCH_SMS_BACKEND"],
                       config["DISPATCH_MAIL_BACKEND"])
    for name, value in (("DISPATCH_PUSH_BACKEND", push), ("DISPATCH_SMS_BACKEND", sms),
                        ("DISPATCH_MAIL_BACKEND", mail)):
        allowed = {"DISPATCH_PUSH_BACKEND": ("inbox", "fcm"), "DISPATCH_SMS_BACKEND": ("inbox", "twilio"),
                   "DISPATCH_MAIL_BACKEND": ("inbox", "smtp")}[name]
        if value not in allowed:
            raise ValueError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    if push == "fcm":
        from dispatch.notify.fcm import FcmPush

        fcm = FcmPush.from_config(config, clock=clock.now)
        runtime.push = fcm
        runtime.closers.append(fcm.close)
    if sms == "twilio":
        from dispatch.notify.twilio_sms import TwilioSms

        twilio = TwilioSms.from_config(config)
        runtime.sms = twilio
        runtime.closers.append(twilio.close)
    if mail == "smtp":
        from dispatch.notify.smtp import SmtpMailer

        runtime.mail = SmtpMailer.from_config(config)


def senders(app: Flask) -> Senders:
    """Return what the outbox sender needs, from the app's runtime and settings."""
    from dispatch.synthesis.mail import build_mail

    runtime: Runtime = app.extensions["dispatch"]
    config = app.config
    callback = None
    if config["DISPATCH_SMS_BACKEND"] == "twilio":
        callback = f"{config['DISPATCH_PUBLIC_URL']}/api/v1/webhooks/twilio/status"
    return Senders(push=runtime.push, sms=runtime.sms, mail=runtime.mail, build_mail=build_mail,
                   max_attempts=int(config["OUTBOX_MAX_ATTEMPTS"]), lease_s=int(config.get("OUTBOX_LEASE_S", 30)),
                   sms_callback=callback)
