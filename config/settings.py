"""Settings per environment: defaults, then the DISPATCH_* environment variables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENV_KEYS = (
    "DISPATCH_DATABASE_URL",
    "DISPATCH_SECRET_KEY",
    "DISPATCH_PUSH_BACKEND",
    "DISPATCH_FCM_CREDENTIALS",
    "DISPATCH_FCM_URL",
    "DISPATCH_FCM_PROJECT",
    "DISPATCH_SMS_BACKEND",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "DISPATCH_SMS_FROM",
    "DISPATCH_TWILIO_URL",
    "DISPATCH_MAIL_BACKEND",
    "DISPATCH_WEBPUSH_BACKEND",
    "DISPATCH_VAPID_SUBJECT",
    "DISPATCH_SMTP_HOST",
    "DISPATCH_SMTP_PORT",
    "DISPATCH_SMTP_SECURITY",
    "DISPATCH_SMTP_CERT",
    "DISPATCH_SMTP_KEY",
    "DISPATCH_SMTP_CA",
    "DISPATCH_SMTP_FROM",
    "DISPATCH_SMTP_TIMEOUT",
    "DISPATCH_SMTP_LOCAL_HOSTNAME",
    "DISPATCH_MSSANTE_NIL",
    "DISPATCH_PUBLIC_URL",
    "DISPATCH_TOKEN_TTL_S",
    "DISPATCH_WEBPUSH_HOSTS",
    "DISPATCH_VAPID_PRIVATE_KEY",
    "DISPATCH_WEBPUSH_TIMEOUT",
)

BASE: dict[str, Any] = {
    "DISPATCH_PUSH_BACKEND": "inbox",
    "DISPATCH_SMS_BACKEND": "inbox",
    "DISPATCH_MAIL_BACKEND": "inbox",
    "DISPATCH_WEBPUSH_BACKEND": "inbox",
    "DISPATCH_SMTP_SECURITY": "tls",
    "DISPATCH_SMTP_PORT": "465",
    "DISPATCH_SMTP_FROM": "snp-dispatch@cpts.mssante.fr",
    "DISPATCH_MSSANTE_NIL": "SNP-DISPATCH",
    "DISPATCH_PUBLIC_URL": "http://127.0.0.1:5000",
    "DISPATCH_TOKEN_TTL_S": "43200",
    # Hosts a Web Push subscription's endpoint may point at; a leading dot matches subdomains.
    "DISPATCH_WEBPUSH_HOSTS": "fcm.googleapis.com,.push.services.mozilla.com,.push.apple.com,.notify.windows.com",
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "JSON_SORT_KEYS": False,
    "API_TITLE": "SNP Dispatch",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # No ping on every checkout (a round trip per HTTP call): dispatch.db pings connections idle for a while.
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    # Password hashing cost (argon2id); tests lower it.
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_COST": 65536,
    # Failed logins before 429, and the window they are counted over.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 30,
    "LOGIN_WINDOW_S": 900,
    "OUTBOX_MAX_ATTEMPTS": 8,
}


def instance_secret(instance_path: Path) -> str:
    """Return the signing secret kept in the instance folder, creating it on first run."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load(
    instance_path: Path, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return the settings: defaults, then environment, then explicit overrides."""
    env = os.environ if environ is None else environ
    settings = dict(BASE)
    settings.update({key: env[key] for key in ENV_KEYS if env.get(key)})
    settings.update(overrides or {})
    if not settings.get("DISPATCH_DATABASE_URL"):
        instance_path.mkdir(parents=True, exist_ok=True)
        settings["DISPATCH_DATABASE_URL"] = f"sqlite:///{instance_path / 'dispatch.sqlite3'}"
    if not settings.get("DISPATCH_SECRET_KEY"):
        settings["DISPATCH_SECRET_KEY"] = instance_secret(instance_path)
    settings["SQLALCHEMY_DATABASE_URI"] = settings["DISPATCH_DATABASE_URL"]
    settings["SECRET_KEY"] = settings["DISPATCH_SECRET_KEY"]
    return settings
