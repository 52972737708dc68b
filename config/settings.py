"""Settings per environment: defaults, then the DISPATCH_* environment variables."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    "DISPATCH_CUSTODIAN_ID",
    "DISPATCH_PUBLIC_URL",
    "DISPATCH_TOKEN_TTL_S",
    "DISPATCH_WEBPUSH_HOSTS",
    "DISPATCH_VAPID_PRIVATE_KEY",
    "DISPATCH_WEBPUSH_TIMEOUT",
    "DISPATCH_DEV_INBOX",
    "DISPATCH_PROXY_HOPS",
    "DISPATCH_IMAP_HOST",
    "DISPATCH_IMAP_PORT",
    "DISPATCH_IMAP_USER",
    "DISPATCH_IMAP_PASSWORD",
    "DISPATCH_IMAP_FOLDER",
    "DISPATCH_IMAP_POLL_S",
    "DISPATCH_IMAP_TIMEOUT",
    "DISPATCH_MSSANTE_OPERATOR_DOMAINS",
    "DISPATCH_ANNUAIRE_URL",
    "DISPATCH_ANNUAIRE_API_KEY",
    "DISPATCH_ANNUAIRE_TIMEOUT",
    "DISPATCH_METRICS_TOKEN",
    "DISPATCH_ENV",
    "DISPATCH_PSC_ISSUER",
    "DISPATCH_PSC_CLIENT_ID",
    "DISPATCH_PSC_CLIENT_CERT",
    "DISPATCH_PSC_CLIENT_KEY",
    "DISPATCH_PSC_CA",
    "DISPATCH_MSSANTE_CERTS_DIR",
    "DISPATCH_MAIL_SMTP_HOST",
    "DISPATCH_MAIL_SMTP_PORT",
    "DISPATCH_MAIL_SMTP_SECURITY",
    "DISPATCH_MAIL_SMTP_USER",
    "DISPATCH_MAIL_SMTP_PASSWORD",
    "DISPATCH_MAIL_SMTP_FROM",
    "OVH_ENDPOINT",
    "OVH_APPLICATION_KEY",
    "OVH_APPLICATION_SECRET",
    "OVH_CONSUMER_KEY",
    "DISPATCH_OVH_SMS_SERVICE",
    "DISPATCH_OVH_URL",
)

BASE: dict[str, Any] = {
    "DISPATCH_PUSH_BACKEND": "inbox",
    "DISPATCH_SMS_BACKEND": "inbox",
    "DISPATCH_MAIL_BACKEND": "inbox",
    "DISPATCH_WEBPUSH_BACKEND": "inbox",
    "DISPATCH_SMTP_SECURITY": "tls",
    "DISPATCH_SMTP_FROM": "snp-dispatch@cpts.mssante.fr",
    # The X-MSS-NIL header of every secure message: the placeholder until the MSSanté operator gives ours.
    "DISPATCH_MSSANTE_NIL": "SNP-DISPATCH",
    "DISPATCH_PUBLIC_URL": "http://127.0.0.1:5000",
    "DISPATCH_TOKEN_TTL_S": "43200",
    # The dev inbox page (/dev/inbox) shows every message kept by the inbox backends: only when asked ("1").
    "DISPATCH_DEV_INBOX": "0",
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
    # Sign-in throttling, never an account lock: failures of one login from one address before each attempt waits
    # LOGIN_DELAY_S, doubling per failure up to the window; failures from one address (any login) before it waits
    # the window out; the window they are counted over.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_DELAY_S": 30,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 30,
    "LOGIN_WINDOW_S": 900,
    # Reverse proxies in front of the service (werkzeug ProxyFix): 0 trusts no X-Forwarded-For; 1 behind one proxy.
    "DISPATCH_PROXY_HOPS": "0",
    "OUTBOX_MAX_ATTEMPTS": 8,
    # The platform's own MSSanté mailbox, where delivery reports (DSN) and read receipts (MDN) come back: read over
    # IMAP with TLS and the certificate of DISPATCH_SMTP_CERT/KEY (LOGIN too when a password is set, else SASL
    # EXTERNAL). No host: not read (the dev inbox, or an operator that offers no IMAP).
    "DISPATCH_IMAP_HOST": "",
    "DISPATCH_IMAP_PORT": "993",
    "DISPATCH_IMAP_FOLDER": "INBOX",
    "DISPATCH_IMAP_POLL_S": "60",
    # The national directory (API FHIR Annuaire Santé, e.g. https://gateway.api.esante.gouv.fr/fhir/v2) where a treating
    # GP's MSSanté address is looked up by RPPS when the operator gives none; unset: no lookup. Its key: ESANTE-API-KEY.
    "DISPATCH_ANNUAIRE_URL": "",
    "DISPATCH_ANNUAIRE_API_KEY": "",
    "DISPATCH_ANNUAIRE_TIMEOUT": "10",
    # "production" or "development" (today's default): read through is_production() only.
    "DISPATCH_ENV": "development",
    # Pro Santé Connect (OpenID Connect): the issuer (e.g. https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet),
    # our client id, and the certificate and key (PEM files) that authenticate us at its token endpoint (mTLS); unset
    # issuer: no "Se connecter avec Pro Santé Connect". The CA bundle that verifies its servers: the system's if unset.
    "DISPATCH_PSC_ISSUER": "",
    "DISPATCH_PSC_CLIENT_ID": "",
    "DISPATCH_PSC_CLIENT_CERT": "",
    "DISPATCH_PSC_CLIENT_KEY": "",
    "DISPATCH_PSC_CA": "",
    # Communities with a mailbox of their own (mssante_from): its certificate and key are <dir>/<address>.crt and .key.
    "DISPATCH_MSSANTE_CERTS_DIR": "",
    # The ordinary relay for mail that is no health data (invitations, password links, notices to accounts): MSSanté
    # carries only what concerns a patient. No host: kept in the dev inbox; required with DISPATCH_MAIL_BACKEND=smtp.
    "DISPATCH_MAIL_SMTP_HOST": "",
    "DISPATCH_MAIL_SMTP_SECURITY": "starttls",
    "DISPATCH_MAIL_SMTP_FROM": "",
    # OVHcloud's SMS API (DISPATCH_SMS_BACKEND=ovh): the region of its API; DISPATCH_OVH_URL replaces its base (tests).
    "OVH_ENDPOINT": "ovh-eu",
}


# DISPATCH_SMTP_PORT, when not set, is the port of the security mode: implicit TLS (RFC 8314), submission
# upgraded by STARTTLS (RFC 6409), plain relay.
SMTP_PORTS = {"tls": "465", "starttls": "587", "none": "25"}
MSSANTE_NIL_PLACEHOLDER = BASE["DISPATCH_MSSANTE_NIL"]


def private_folder(path: Path) -> None:
    """Create a folder only its owner may enter (0700), unless it exists: the instance folder holds keys and the data."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
            path.chmod(0o700)  # whatever the umask


def instance_secret(instance_path: Path) -> str:
    """Return the signing secret kept in the instance folder, creating it on first run, readable by its owner only."""
    path = instance_path / "secret_key"
    if not path.exists():
        private_folder(instance_path)
        with contextlib.suppress(FileExistsError):  # a concurrent first run wrote it: keep theirs
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def load(
    instance_path: Path, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return the settings: defaults, then environment, then explicit overrides."""
    env = os.environ if environ is None else environ
    settings = dict(BASE)
    settings.update({key: env[key] for key in ENV_KEYS if env.get(key)})
    settings.update(overrides or {})
    if not settings.get("DISPATCH_SMTP_PORT"):
        security = str(settings.get("DISPATCH_SMTP_SECURITY") or "").strip().lower()
        settings["DISPATCH_SMTP_PORT"] = SMTP_PORTS.get(security, SMTP_PORTS["tls"])  # a bad mode is refused at start
    if not settings.get("DISPATCH_DATABASE_URL"):
        private_folder(instance_path)  # the database file is created 0600 on first connection (dispatch.db)
        settings["DISPATCH_DATABASE_URL"] = f"sqlite:///{instance_path / 'dispatch.sqlite3'}"
    if not settings.get("DISPATCH_SECRET_KEY"):
        settings["DISPATCH_SECRET_KEY"] = instance_secret(instance_path)
    # Links and Twilio's signed callback URL are the public address followed by a path: no double slash.
    settings["DISPATCH_PUBLIC_URL"] = str(settings.get("DISPATCH_PUBLIC_URL") or "").strip().rstrip("/")
    settings["SQLALCHEMY_DATABASE_URI"] = settings["DISPATCH_DATABASE_URL"]
    settings["SECRET_KEY"] = settings["DISPATCH_SECRET_KEY"]
    return settings


def public_https(config: Mapping[str, Any]) -> bool:
    """Tell whether the public reaches the service over https (DISPATCH_PUBLIC_URL): Secure cookies and HSTS then."""
    return str(config.get("DISPATCH_PUBLIC_URL") or "").strip().lower().startswith("https://")


def public_host(config: Mapping[str, Any]) -> str:
    """Return the host name of DISPATCH_PUBLIC_URL (never a request's Host header, which the client chooses)."""
    return urlsplit(str(config.get("DISPATCH_PUBLIC_URL") or "").strip()).hostname or "snp-dispatch.invalid"


def public_url(config: Mapping[str, Any], path: str) -> str:
    """Return the address the public reaches `path` at: DISPATCH_PUBLIC_URL (any trailing slash dropped), then `path`."""
    return str(config.get("DISPATCH_PUBLIC_URL") or "").strip().rstrip("/") + path


def ordinary_from(config: Mapping[str, Any]) -> str:
    """Return the From of ordinary mail (DISPATCH_MAIL_SMTP_FROM), else no-reply at the public host."""
    return str(config.get("DISPATCH_MAIL_SMTP_FROM") or "").strip() or f"ne-pas-repondre@{public_host(config)}"


def dev_inbox(config: Mapping[str, Any]) -> bool:
    """Tell whether the dev inbox page is served (DISPATCH_DEV_INBOX=1): never by default."""
    return str(config.get("DISPATCH_DEV_INBOX", "")).strip().lower() in ("1", "true", "yes", "on")


def is_production(config: Mapping[str, Any]) -> bool:
    """Tell whether the service runs in production (DISPATCH_ENV=production); development until told otherwise.

    The one place DISPATCH_ENV is read: production asks the accounts that manage others for their second factor.
    """
    return str(config.get("DISPATCH_ENV") or "development").strip().lower() == "production"


def psc_configured(config: Mapping[str, Any]) -> bool:
    """Tell whether signing in with Pro Santé Connect is offered: an issuer and a client id are set."""
    return bool(str(config.get("DISPATCH_PSC_ISSUER") or "").strip() and str(config.get("DISPATCH_PSC_CLIENT_ID") or "").strip())
