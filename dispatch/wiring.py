"""Choose the adapters to the outside from the configuration, once, at start."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from flask import Flask

from config import settings
from dispatch.clock import SystemClock
from dispatch.notify.annuaire import AnnuaireSante
from dispatch.notify.geoplateforme import Geoplateforme
from dispatch.notify.imap import ImapMailbox
from dispatch.notify.inbox import InboxMail, InboxPush, InboxSms
from dispatch.notify.service import Senders
from dispatch.notify.vapid import load_or_create_vapid_key
from dispatch.notify.webhooks import status_callback_url
from dispatch.runtime import Clock, Ports, Runtime

log = logging.getLogger(__name__)
INSTANCE = Path(__file__).resolve().parent.parent / "instance"  # the app's instance folder: kept keys


# Settings the service must not start with: a French line per problem, printed by the commands without a traceback.
ConfigurationError = settings.SettingsError


def build_ports(config: Mapping[str, Any], clock: Clock, instance_path: Path | None = None) -> Ports:
    """Return the adapters the configuration selects: the dev inbox unless a real backend is named."""
    try:
        return _ports(config, clock, instance_path or INSTANCE)
    except ValueError as exc:
        raise ConfigurationError([f"configuration incomplète, le service ne démarre pas : {exc}"]) from exc


def proxy_hops(config: Mapping[str, Any]) -> int:
    """Return how many reverse proxies stand in front of the service (DISPATCH_PROXY_HOPS), or refuse to start."""
    raw = str(config.get("DISPATCH_PROXY_HOPS") or "0").strip()
    if not raw.isdigit() or int(raw) > 5:
        raise ConfigurationError(
            [f"DISPATCH_PROXY_HOPS={raw!r} : nombre de mandataires inverses attendu (0 à 5) ; le service ne démarre pas."]
        )
    return int(raw)


FORWARDED_UNTRUSTED = (
    "requests arrive with X-Forwarded-For but DISPATCH_PROXY_HOPS is 0: every client is seen with the proxy's "
    "address (sign-in throttling, logs, the access trail); set DISPATCH_PROXY_HOPS to the number of proxies"
)


class ForwardedWarning:
    """WSGI middleware of a service told it stands behind no proxy: the first request bearing X-Forwarded-For logs a
    warning, once per process; then it is out of the way (one attribute read a request)."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.warned = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not self.warned and environ.get("HTTP_X_FORWARDED_FOR"):
            self.warned = True
            log.warning(FORWARDED_UNTRUSTED)
        return self.wsgi_app(environ, start_response)


def imap_poll_s(config: Mapping[str, Any]) -> int:
    """Return how often the worker reads the platform's mailbox for receipts (DISPATCH_IMAP_POLL_S), or refuse to start."""
    raw = str(config.get("DISPATCH_IMAP_POLL_S") or "60").strip()
    if not raw.isdigit() or not 10 <= int(raw) <= 3600:
        raise ConfigurationError(
            [
                f"DISPATCH_IMAP_POLL_S={raw!r} : intervalle de lecture de la boîte MSSanté attendu en secondes (10 à 3600) ; "
                "le service ne démarre pas."
            ]
        )
    return int(raw)


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse settings the service must not start with, all at once, a French line each (in production, every demo
    default; anywhere, the dev inbox on a public address, Twilio without https, bad proxy hops or mailbox interval);
    warn of those it should not run with for long."""
    proxy_hops(config)
    imap_poll_s(config)
    problems = settings.production_problems(config)
    public = str(config.get("DISPATCH_PUBLIC_URL") or "").strip().lower()
    production = settings.is_production(config)
    if config.get("DISPATCH_SMS_BACKEND") == "twilio" and not public.startswith("https://") and not production:
        # Twilio posts each SMS's statuses to DISPATCH_PUBLIC_URL, signed: in clear text anyone on the way
        # reads the patients' numbers it carries. (Production refuses any address but https already.)
        problems.append(
            f"DISPATCH_SMS_BACKEND=twilio : DISPATCH_PUBLIC_URL={config.get('DISPATCH_PUBLIC_URL')!r} doit être une "
            "adresse https, celle où Twilio rappelle le service avec le statut de chaque SMS ; le service ne démarre pas."
        )
    if settings.dev_inbox(config) and public.startswith("https:") and not production:  # production refuses it anyway
        problems.append(
            "DISPATCH_DEV_INBOX=1 publierait chaque message (patients, médecins) à l'adresse publique "
            f"{config['DISPATCH_PUBLIC_URL']} : la boîte de réception de démonstration est réservée au poste local. "
            "Retirez DISPATCH_DEV_INBOX ; le service ne démarre pas."
        )
    if config.get("DISPATCH_MAIL_BACKEND") == "smtp" and not str(config.get("DISPATCH_MAIL_SMTP_HOST") or "").strip():
        # Invitations and password links concern no patient: never through MSSanté (CONTRACT.md).
        problems.append(
            "DISPATCH_MAIL_BACKEND=smtp : DISPATCH_MAIL_SMTP_HOST manque, le relais du courrier ordinaire (invitations, "
            "liens de mot de passe) que MSSanté ne doit pas porter ; le service ne démarre pas."
        )
    if problems:
        raise ConfigurationError(problems)
    if config.get("DISPATCH_MAIL_BACKEND") == "smtp" and config.get("DISPATCH_MSSANTE_NIL") == settings.MSSANTE_NIL_PLACEHOLDER:
        log.warning(
            "DISPATCH_MSSANTE_NIL is still the placeholder %r: every secure message carries it as X-MSS-NIL; "
            "set the identifier the MSSanté operator gave the platform",
            settings.MSSANTE_NIL_PLACEHOLDER,
        )


def build_runtime(config: Mapping[str, Any], *, clock: Clock | None = None, ports: Ports | None = None) -> Runtime:
    """Return the runtime of an app: its clock, hasher and ports (built from `config` unless given)."""
    clock = clock or SystemClock()
    hasher = PasswordHasher(time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_COST"])
    return Runtime(clock=clock, hasher=hasher, ports=ports or build_ports(config, clock))


def _ports(config: Mapping[str, Any], clock: Clock, instance_path: Path) -> Ports:
    push, sms, mail, webpush = (
        config["DISPATCH_PUSH_BACKEND"],
        config["DISPATCH_SMS_BACKEND"],
        config["DISPATCH_MAIL_BACKEND"],
        config["DISPATCH_WEBPUSH_BACKEND"],
    )
    for name, value in (
        ("DISPATCH_PUSH_BACKEND", push),
        ("DISPATCH_SMS_BACKEND", sms),
        ("DISPATCH_MAIL_BACKEND", mail),
        ("DISPATCH_WEBPUSH_BACKEND", webpush),
    ):
        allowed = {
            "DISPATCH_PUSH_BACKEND": ("inbox", "fcm"),
            "DISPATCH_SMS_BACKEND": ("inbox", "twilio", "ovh"),
            "DISPATCH_MAIL_BACKEND": ("inbox", "smtp"),
            "DISPATCH_WEBPUSH_BACKEND": ("inbox", "webpush"),
        }[name]
        if value not in allowed:
            raise ValueError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    closers: list[Callable[[], None]] = []
    try:
        push_port: Any = InboxPush(clock.now)
        sms_port: Any = InboxSms(clock.now)
        sms_status: Any = None
        mail_port: Any = InboxMail(clock.now)
        relay_port: Any = mail_port  # the dev inbox keeps both
        # Generated into the instance folder in development only: production replicas must share one key.
        create = not settings.is_production(config)
        key = load_or_create_vapid_key(config.get("DISPATCH_VAPID_PRIVATE_KEY"), instance_path, create=create)
        webpush_port: Any = InboxPush(clock.now)
        if webpush == "webpush":
            from dispatch.notify.webpush import WebPushPush

            webpush_port = WebPushPush.from_config(config, clock=clock.now, instance_path=instance_path)
            closers.append(webpush_port.close)
        if push == "fcm":
            from dispatch.notify.fcm import FcmPush

            push_port = FcmPush.from_config(config, clock=clock.now)
            closers.append(push_port.close)
        if sms == "twilio":
            from dispatch.notify.twilio_sms import TwilioSms

            sms_port = TwilioSms.from_config(config)
            closers.append(sms_port.close)
        if sms == "ovh":
            from dispatch.notify.ovh_sms import OvhSms

            sms_port = sms_status = OvhSms.from_config(config)  # its statuses are asked for, not called back
            closers.append(sms_port.close)
        if mail == "smtp":
            from dispatch.notify.smtp import SmtpMailer

            if not re.fullmatch(r"1\d{9}|3\d{14}", str(config.get("DISPATCH_CUSTODIAN_ID") or "")):
                # The CDA of every synthesis names the structure keeping it (CI-SIS custodian).
                raise ValueError("DISPATCH_CUSTODIAN_ID must be the IdNatStruct of the CPTS: 3 + SIRET or 1 + FINESS")

            mail_port = SmtpMailer.from_config(config)
            relay_port = SmtpMailer.relay_from_config(config)
            if relay_port is None:
                # Invitations and password links concern no patient: never through MSSanté (CONTRACT.md).
                raise ValueError("DISPATCH_MAIL_SMTP_HOST manque : le relais du courrier ordinaire, que MSSanté ne doit pas porter")
        elif config.get("DISPATCH_MAIL_SMTP_HOST"):
            from dispatch.notify.smtp import SmtpMailer

            relay_port = SmtpMailer.relay_from_config(config)
        directory = AnnuaireSante.from_config(config, clock=clock.now)  # None unless DISPATCH_ANNUAIRE_URL is set
        geocoder = Geoplateforme.from_config(config, clock=clock.now)  # None unless DISPATCH_GEOCODER=geoplateforme
        if geocoder is not None:
            closers.append(geocoder.close)
        mailbox = ImapMailbox.from_config(config)  # None unless DISPATCH_IMAP_HOST is set
        mailbox_for: Callable[[str], ImapMailbox] | None = None
        if mailbox is not None and str(config.get("DISPATCH_MSSANTE_CERTS_DIR") or "").strip():
            # Each community's own mailbox, on the same operator's server, with its own certificate.
            mailbox_for = functools.partial(ImapMailbox.for_address, dict(config))
        if directory is not None:
            closers.append(directory.close)
    except BaseException:
        for close in reversed(closers):  # what did start must not leak
            close()
        raise
    return Ports(
        push=push_port,
        sms=sms_port,
        mail=mail_port,
        webpush=webpush_port,
        vapid_public_key=key.public_key_b64url,
        directory=directory,
        geocoder=geocoder,
        mailbox=mailbox,
        mailbox_for=mailbox_for,
        relay=relay_port,
        sms_status=sms_status,
        closers=tuple(closers),
    )


def senders(app: Flask) -> Senders:
    """Return what the outbox sender needs, from the app's runtime and settings."""
    from dispatch.synthesis.mail import build_mail

    runtime: Runtime = app.extensions["dispatch"]
    config = app.config
    callback = None
    if config["DISPATCH_SMS_BACKEND"] == "twilio":
        callback = status_callback_url(config)  # the very URL the webhook checks Twilio's signature against
    return Senders(
        push=runtime.push,
        sms=runtime.sms,
        mail=runtime.mail,
        relay=runtime.ports.relay,
        build_mail=build_mail,
        max_attempts=int(config["OUTBOX_MAX_ATTEMPTS"]),
        lease_s=int(config.get("OUTBOX_LEASE_S", 30)),
        sms_callback=callback,
        hooks=app.extensions["dispatch.hooks"],
        webpush=runtime.ports.webpush,
        directory=runtime.ports.directory,
        geocoder=runtime.ports.geocoder,
    )
