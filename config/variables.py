"""Every environment variable of the service, typed, with its default and its meaning: the one place they are declared.

`config.settings.load` reads them (and `NAME_FILE` for the secrets); `dispatch settings-doc` writes
docs/settings.md from this class. A field's name is the variable's name.
"""

from __future__ import annotations

from typing import Any, Literal

from cryptography.fernet import Fernet
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# The groups of the reference page, in its order.
GROUPS = {
    "mode": "Mode",
    "web": "Web, database and processes",
    "push": "Push to the phone app (FCM)",
    "webpush": "Web Push to the installable app",
    "sms": "SMS (Twilio)",
    "mail": "Secure mail (MSSanté, SMTP)",
    "imap": "Delivery and read reports (the platform's MSSanté mailbox, IMAP)",
    "annuaire": "National directory (API FHIR Annuaire Santé)",
    "geo": "Geocoding (patients' and practices' addresses)",
    "psc": "Pro Santé Connect",
    "signin": "Sign-in, passwords and the outbox",
}
DEFAULT_WEBPUSH_HOSTS = "fcm.googleapis.com,.push.services.mozilla.com,.push.apple.com,.notify.windows.com"
SMTP_SECURITY_MODES = ("tls", "starttls", "none")


def var(default: Any, meaning: str, *, group: str, secret: bool = False, shown: str | None = None, **rules: Any) -> Any:
    """Declare a variable: its default, its meaning (one sentence for the reference page), its group, whether it is a
    secret (then also read from the file named by NAME_FILE), the default as the page shows it when computed."""
    extra = {"group": group, "secret": secret, "shown": shown}
    return Field(default, description=meaning, json_schema_extra=extra, **rules)  # type: ignore[arg-type]


class Settings(BaseSettings):
    """The service's settings. Read from the mapping `config.settings.load` is given, never implicitly from os.environ."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", env_ignore_empty=True, frozen=True)

    # -- mode
    DISPATCH_ENV: Literal["production", "development"] = var(
        "production",
        "`production` refuses to start with any demo default (see the refusals above); `development` (`make run`, "
        "`dispatch demo`, the tests) generates missing keys into `instance/` and allows the inbox transports. Read "
        "through `config.settings.is_production` only.",
        group="mode",
    )
    # -- web, database, processes
    DISPATCH_DATABASE_URL: str = var(
        "",
        "SQLAlchemy URL of the database, e.g. `postgresql+psycopg://dispatch:…@db/dispatch`.",
        group="web",
        secret=True,
        shown="`sqlite:///instance/dispatch.sqlite3`",
    )
    DISPATCH_SECRET_KEY: str = var(
        "",
        "Signs sessions and links; the same in every process. Required in production.",
        group="web",
        secret=True,
        shown="development: generated into `instance/secret_key`",
    )
    DISPATCH_DATA_KEY: str = var(
        "",
        "The Fernet key (`cryptography.fernet.Fernet.generate_key()`) that encrypts clinical text at rest: the syntheses' "
        "text (their PDF is made from it) and the requests' descriptions. The same in every process. Required in "
        "production.",
        group="web",
        secret=True,
        shown="development: generated into `instance/data_key`",
    )
    DISPATCH_DATA_KEY_OLD: str = var(
        "",
        "The previous Fernet key during a rotation: what it encrypted still reads; `dispatch data rotate-key` then "
        "re-encrypts it with `DISPATCH_DATA_KEY`, after which this one is removed.",
        group="web",
        secret=True,
    )
    DISPATCH_PUBLIC_URL: str = var(
        "http://127.0.0.1:5000",
        "The address the public reaches the service at (links in SMS, Twilio's callbacks, the `.ics`, Pro Santé Connect's "
        "redirect); a trailing slash is dropped. `https://` in production (then Secure cookies and HSTS).",
        group="web",
    )
    DISPATCH_PROXY_HOPS: int = var(
        0,
        "Reverse proxies in front of the service (0 to 5); with 0, a request bearing `X-Forwarded-For` logs a warning once.",
        group="web",
        ge=0,
        le=5,
    )
    DISPATCH_STATEMENT_TIMEOUT_MS: int = var(
        5000,
        "PostgreSQL: the longest a statement of a web request may run, in milliseconds (0: no limit); past it the call "
        "answers 503 with `Retry-After` and changes nothing. The worker, the commands and the migrations have none.",
        group="web",
        ge=0,
    )
    DISPATCH_TOKEN_TTL_S: int = var(43200, "Lifetime in seconds of an API token and of a page session.", group="web", gt=0)
    DISPATCH_DEV_INBOX: bool = var(
        False,
        "`1` serves the dev inbox page `/dev/inbox` (every message the inbox transports kept); development only, never "
        "with an `https://` public address.",
        group="web",
    )
    DISPATCH_WEB_WORKER: bool | None = var(
        None,
        "`1`: a web process (`dispatch web`, gunicorn) also runs a worker (tick leader election and senders); `dispatch "
        "serve` sets it.",
        group="web",
        shown="`1` on SQLite, off on PostgreSQL",
    )
    DISPATCH_LOG_LEVEL: str = var("INFO", "Level of the JSON logs (`DEBUG`, `INFO`, `WARNING`, `ERROR`).", group="web")
    DISPATCH_METRICS_TOKEN: str = var(
        "",
        "Bearer token Prometheus sends to `/metrics`; unset: `/metrics` answers 404.",
        group="web",
        secret=True,
    )
    PROMETHEUS_MULTIPROC_DIR: str = var(
        "",
        "A folder shared by a machine's web processes and workers, where each writes its counts (read by "
        "prometheus_client); unset: each process counts alone.",
        group="web",
    )
    DISPATCH_CLOCK_FILE: str = var(
        "",
        "**Tests only**: a file holding an offset in seconds added to the system time. Refused in production.",
        group="web",
    )
    # -- push (FCM)
    DISPATCH_PUSH_BACKEND: Literal["inbox", "fcm"] = var(
        "inbox", "`fcm` sends pushes through Firebase Cloud Messaging; `inbox` keeps them (refused in production).", group="push"
    )
    DISPATCH_FCM_CREDENTIALS: str = var("", "Path of the Firebase service account's JSON key.", group="push")
    DISPATCH_FCM_URL: str = var("", "FCM's base URL instead of Google's (a local relay; tests).", group="push")
    DISPATCH_FCM_PROJECT: str = var("", "The Firebase project id, with `DISPATCH_FCM_URL`.", group="push")
    # -- web push
    DISPATCH_WEBPUSH_BACKEND: Literal["inbox", "webpush"] = var(
        "inbox",
        "`webpush` sends Web Push (RFC 8030) to the installable app; `inbox` keeps them (refused in production).",
        group="webpush",
    )
    DISPATCH_WEBPUSH_HOSTS: str = var(
        DEFAULT_WEBPUSH_HOSTS,
        "Push services a subscription's endpoint may point at, comma-separated; a leading dot matches subdomains.",
        group="webpush",
    )
    DISPATCH_VAPID_PRIVATE_KEY: str = var(
        "",
        "The VAPID key that signs Web Push (RFC 8292): a PEM file's path, PEM text, or raw base64url. Required in production.",
        group="webpush",
        secret=True,
        shown="development: generated into `instance/vapid_private.pem`",
    )
    DISPATCH_VAPID_SUBJECT: str = var(
        "", "The VAPID subject (`mailto:` or `https:`).", group="webpush", shown="`mailto:` + `DISPATCH_SMTP_FROM`"
    )
    DISPATCH_WEBPUSH_TIMEOUT: float = var(10.0, "Seconds before a Web Push send is given up and retried.", group="webpush", gt=0)
    # -- SMS
    DISPATCH_SMS_BACKEND: Literal["inbox", "twilio", "ovh"] = var(
        "inbox",
        "`twilio` sends SMS through Twilio, `ovh` through OVHcloud (a French processor); `inbox` keeps them (refused in "
        "production).",
        group="sms",
    )
    TWILIO_ACCOUNT_SID: str = var("", "Twilio's account SID.", group="sms")
    TWILIO_AUTH_TOKEN: str = var("", "Twilio's auth token (also checks the signature of its callbacks).", group="sms", secret=True)
    DISPATCH_SMS_FROM: str = var("", "The sender of the SMS (a number or an alphanumeric id).", group="sms")
    DISPATCH_TWILIO_URL: str = var("", "Twilio's API base instead of Twilio's own (a local relay; tests).", group="sms")
    OVH_ENDPOINT: str = var("ovh-eu", "The region of OVHcloud's API (`ovh-eu`).", group="sms")
    OVH_APPLICATION_KEY: str = var("", "OVHcloud application key (`ovh`).", group="sms")
    OVH_APPLICATION_SECRET: str = var("", "OVHcloud application secret (`ovh`).", group="sms", secret=True)
    OVH_CONSUMER_KEY: str = var("", "OVHcloud consumer key (`ovh`).", group="sms", secret=True)
    DISPATCH_OVH_SMS_SERVICE: str = var("", "The OVHcloud SMS account (`sms-xx…`) the jobs are posted to (`ovh`).", group="sms")
    DISPATCH_OVH_URL: str = var(
        "", "Replaces OVHcloud's API base with its version, `https://eu.api.ovh.com/1.0` (a local relay; tests).", group="sms"
    )
    # -- mail
    DISPATCH_MAIL_BACKEND: Literal["inbox", "smtp"] = var(
        "inbox",
        "`smtp` sends secure messages through the MSSanté operator; `inbox` keeps them (refused in production).",
        group="mail",
    )
    DISPATCH_SMTP_HOST: str = var("", "The MSSanté operator's SMTP server (required with `smtp`).", group="mail")
    DISPATCH_SMTP_PORT: int | None = var(
        None, "Its port.", group="mail", ge=1, le=65535, shown="465, 587 or 25, after `DISPATCH_SMTP_SECURITY`"
    )
    DISPATCH_SMTP_SECURITY: str = var(
        "tls",
        "`tls` (implicit TLS, RFC 8314), `starttls` (submission, RFC 6409) or `none` (a plain relay: loopback only in production).",
        group="mail",
    )
    DISPATCH_SMTP_CERT: str = var("", "PEM file of the platform's MSSanté client certificate.", group="mail")
    DISPATCH_SMTP_KEY: str = var("", "PEM file of its private key.", group="mail")
    DISPATCH_SMTP_CA: str = var("", "PEM bundle that verifies the operator's servers.", group="mail", shown="the system's")
    DISPATCH_SMTP_FROM: str = var("snp-dispatch@cpts.mssante.fr", "The From of secure messages.", group="mail")
    DISPATCH_SMTP_TIMEOUT: float = var(20.0, "Seconds before an SMTP exchange is given up and retried.", group="mail", gt=0)
    DISPATCH_SMTP_LOCAL_HOSTNAME: str = var("", "The name given in EHLO.", group="mail", shown="the machine's")
    DISPATCH_MSSANTE_NIL: str = var(
        "SNP-DISPATCH",
        "The X-MSS-NIL header of every secure message: the identifier the MSSanté operator gave (the placeholder is "
        "logged as a warning).",
        group="mail",
    )
    DISPATCH_CUSTODIAN_ID: str = var(
        "", "IdNatStruct of the CPTS (`3` + SIRET or `1` + FINESS), the CDA's custodian; required with `smtp`.", group="mail"
    )
    DISPATCH_MSSANTE_CERTS_DIR: str = var(
        "",
        "Folder of the communities' own MSSanté mailboxes (`mssante_from`): `<address>.crt` and `<address>.key` each.",
        group="mail",
    )
    DISPATCH_MAIL_SMTP_HOST: str = var(
        "",
        "The ordinary relay for mail that is no health data (invitations, password links, notices to accounts); "
        "required with `DISPATCH_MAIL_BACKEND=smtp`: MSSanté carries only what concerns a patient.",
        group="mail",
    )
    DISPATCH_MAIL_SMTP_PORT: int | None = var(
        None, "Its port.", group="mail", ge=1, le=65535, shown="465, 587 or 25, after `DISPATCH_MAIL_SMTP_SECURITY`"
    )
    DISPATCH_MAIL_SMTP_SECURITY: str = var(
        "starttls", "`tls`, `starttls` or `none` (loopback only in production), as `DISPATCH_SMTP_SECURITY`.", group="mail"
    )
    DISPATCH_MAIL_SMTP_USER: str = var("", "AUTH user at the relay; unset: no AUTH.", group="mail")
    DISPATCH_MAIL_SMTP_PASSWORD: str = var("", "AUTH password at the relay.", group="mail", secret=True)
    DISPATCH_MAIL_SMTP_FROM: str = var(
        "", "The From of ordinary mail.", group="mail", shown="`ne-pas-repondre@` + the host of `DISPATCH_PUBLIC_URL`"
    )
    DISPATCH_MSSANTE_OPERATOR_DOMAINS: str = var(
        "",
        "Mail domains of the platform's MSSanté operator, comma-separated: a DSN is believed only from them.",
        group="mail",
        shown="the domain of `DISPATCH_SMTP_HOST`",
    )
    # -- IMAP
    DISPATCH_IMAP_HOST: str = var("", "The platform's MSSanté mailbox (IMAP over TLS); unset: reports are not read.", group="imap")
    DISPATCH_IMAP_PORT: int = var(993, "Its port.", group="imap", ge=1, le=65535)
    DISPATCH_IMAP_USER: str = var("", "LOGIN user; unset: SASL EXTERNAL with the certificate alone.", group="imap")
    DISPATCH_IMAP_PASSWORD: str = var("", "LOGIN password.", group="imap", secret=True)
    DISPATCH_IMAP_FOLDER: str = var("INBOX", "The folder read.", group="imap")
    DISPATCH_IMAP_POLL_S: int = var(60, "Seconds between two reads of the mailbox (10 to 3600).", group="imap", ge=10, le=3600)
    DISPATCH_IMAP_TIMEOUT: float = var(20.0, "Seconds before a read is given up.", group="imap", gt=0)
    # -- Annuaire Santé
    DISPATCH_ANNUAIRE_URL: str = var(
        "", "Base URL of the API, e.g. `https://gateway.api.esante.gouv.fr/fhir/v2`; unset: no lookup.", group="annuaire"
    )
    DISPATCH_ANNUAIRE_API_KEY: str = var(
        "", "The platform's key (`ESANTE-API-KEY`); required with the URL.", group="annuaire", secret=True
    )
    DISPATCH_ANNUAIRE_TIMEOUT: float = var(10.0, "Seconds before a lookup is given up and retried.", group="annuaire", gt=0)
    # -- geocoding
    DISPATCH_GEOCODER: Literal["ban", "geoplateforme", "none"] = var(
        "ban",
        "`ban` places addresses with the local copy of the national address base (`dispatch geo load FILE…`, while "
        "the request opens); `geoplateforme` asks the IGN's online service from the outbox (at most 50 requests a "
        "second, the request opens unplaced until it answers); `none` places nobody (every wave reaches everyone).",
        group="geo",
    )
    DISPATCH_GEOPLATEFORME_URL: str = var(
        "https://data.geopf.fr/geocodage", "Base URL of the Géoplateforme's geocoding service (`GET /search`).", group="geo"
    )
    DISPATCH_GEOPLATEFORME_TIMEOUT: float = var(5.0, "Seconds before a geocoding is given up and retried.", group="geo", gt=0)
    # -- Pro Santé Connect
    DISPATCH_PSC_ISSUER: str = var("", "The issuer; unset: no « Se connecter avec Pro Santé Connect ».", group="psc")
    DISPATCH_PSC_CLIENT_ID: str = var("", "The service's client id.", group="psc")
    DISPATCH_PSC_CLIENT_CERT: str = var("", "PEM file of the certificate that authenticates the service (mTLS).", group="psc")
    DISPATCH_PSC_CLIENT_KEY: str = var("", "PEM file of its private key.", group="psc")
    DISPATCH_PSC_CA: str = var("", "PEM bundle that verifies Pro Santé Connect's servers.", group="psc", shown="the system's")
    # -- sign-in, passwords, outbox
    LOGIN_MAX_FAILURES: int = var(5, "Failures of one login from one address before each attempt waits.", group="signin", ge=1)
    LOGIN_DELAY_S: int = var(30, "The first wait in seconds, doubling per failure up to the window.", group="signin", ge=1)
    LOGIN_MAX_FAILURES_PER_ADDRESS: int = var(30, "Failures from one address (any login) before it waits.", group="signin", ge=1)
    LOGIN_WINDOW_S: int = var(900, "The window failures are counted over, in seconds.", group="signin", ge=1)
    ARGON2_TIME_COST: int = var(3, "Password hashing cost (argon2id iterations).", group="signin", ge=1)
    ARGON2_MEMORY_COST: int = var(65536, "Password hashing memory in KiB.", group="signin", ge=8)
    OUTBOX_MAX_ATTEMPTS: int = var(8, "Attempts of a message before it is given up.", group="signin", ge=1)
    OUTBOX_LEASE_S: int = var(30, "Seconds a sender holds a claimed message before another may take it.", group="signin", ge=1)

    @field_validator("DISPATCH_SMTP_SECURITY", mode="before")
    @classmethod
    def _security_mode(cls, value: Any) -> Any:
        mode = str(value).strip().lower()
        if mode not in SMTP_SECURITY_MODES:
            raise ValueError(f"valeur attendue parmi : {', '.join(SMTP_SECURITY_MODES)}")
        return mode

    @field_validator("DISPATCH_DATA_KEY", "DISPATCH_DATA_KEY_OLD")
    @classmethod
    def _fernet_key(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                Fernet(value)
            except (ValueError, TypeError):
                raise ValueError(
                    "clé Fernet attendue (32 octets en base64url, cryptography.fernet.Fernet.generate_key())"
                ) from None
        return value

    @field_validator("DISPATCH_PUBLIC_URL")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")  # links are this address followed by a path: no double slash

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what `load` passes: it reads the environment it is given (a WSGI server's, a test's), not os.environ.
        return (init_settings,)


def secret_names() -> tuple[str, ...]:
    """Return the variables that hold a secret, each also readable from the file NAME_FILE names."""
    return tuple(name for name, field in Settings.model_fields.items() if _extra(field).get("secret"))


def _extra(field: Any) -> dict[str, Any]:
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
