"""Settings per environment: the typed variables of config.variables read from the environment, then overrides;
the refusals of production."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from cryptography.fernet import Fernet
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from config.variables import Settings, secret_names

# Flask's and flask-smorest's own keys: not variables of the environment (tests may override them).
FLASK: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "JSON_SORT_KEYS": False,
    "API_TITLE": "SNP Dispatch",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # No ping on every checkout (a round trip per HTTP call): dispatch.db pings connections idle for a while.
    "SQLALCHEMY_ENGINE_OPTIONS": {},
}
ENV_KEYS = tuple(Settings.model_fields)
BASE: dict[str, Any] = {**FLASK, **Settings().model_dump()}
SECRETS = secret_names()

# DISPATCH_SMTP_PORT, when not set, is the port of the security mode: implicit TLS (RFC 8314), submission
# upgraded by STARTTLS (RFC 6409), plain relay.
SMTP_PORTS = {"tls": 465, "starttls": 587, "none": 25}
MSSANTE_NIL_PLACEHOLDER = BASE["DISPATCH_MSSANTE_NIL"]
PROBLEM_END = " ; le service ne démarre pas."


class SettingsError(click.ClickException, ValueError):
    """Settings the service must not start with: one French line per problem, printed without a traceback.

    A ClickException: the `dispatch` commands print it plainly and exit with status 1; anywhere else (gunicorn,
    tests) it is an ordinary exception (a ValueError too).
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)  # no "Error:" before each line: they are in French


class EnvironSource(PydanticBaseSettingsSource):
    """The variables of `environ` (empty ones are no setting), each secret also from the file NAME_FILE names."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(Settings)
        self.problems: list[str] = []
        self.values: dict[str, Any] = {}
        for name in Settings.model_fields:
            value = environ.get(name) or None
            path = environ.get(f"{name}_FILE") or None if name in SECRETS else None
            if value is not None and path is not None:
                self.problems.append(f"{name} et {name}_FILE sont donnés tous les deux : gardez l'un des deux" + PROBLEM_END)
            elif path is not None:
                try:
                    value = Path(path).read_text(encoding="utf-8").strip()
                except (OSError, UnicodeDecodeError) as exc:
                    self.problems.append(f"{name}_FILE={path!r} : fichier illisible ({exc.__class__.__name__})" + PROBLEM_END)
                    continue
            if value is not None:
                self.values[name] = value

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def explain(error: Mapping[str, Any], given: Mapping[str, Any]) -> str:
    """Return the French line of one validation error of pydantic."""
    name = str(error["loc"][0]) if error.get("loc") else "?"
    shown = "***" if name in SECRETS else repr(given.get(name))
    context = error.get("ctx") or {}
    kind = str(error.get("type"))
    if kind == "literal_error":
        why = f"valeur attendue parmi : {context.get('expected', '').replace(' or ', ', ')}"
    elif kind in ("int_parsing", "int_from_float"):
        why = "nombre entier attendu"
    elif kind == "float_parsing":
        why = "nombre attendu"
    elif kind == "bool_parsing":
        why = "1 ou 0 attendu"
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤", "less_than": "<"}[kind]
        bound = next(iter(context.values()), "")
        why = f"valeur {sign} {bound} attendue"
    elif kind == "value_error":
        why = str(context.get("error") or "valeur invalide")
    else:
        why = "valeur invalide"
    return f"{name}={shown} : {why}" + PROBLEM_END


def private_folder(path: Path) -> None:
    """Create a folder only its owner may enter (0700), unless it exists: the instance folder holds keys and the data."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
            path.chmod(0o700)  # whatever the umask


def instance_secret(instance_path: Path, name: str = "secret_key", make: Callable[[], str] | None = None) -> str:
    """Return a secret kept in the instance folder (the signing secret unless named), creating it on first run with
    `make`, readable by its owner only."""
    path = instance_path / name
    if not path.exists():
        private_folder(instance_path)
        with contextlib.suppress(FileExistsError):  # a concurrent first run wrote it: keep theirs
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(make() if make else secrets.token_urlsafe(48))
    return path.read_text().strip()


def instance_data_key(instance_path: Path) -> str:
    """Return the Fernet key of development kept in the instance folder (`data_key`), generated on first run."""
    return instance_secret(instance_path, "data_key", lambda: Fernet.generate_key().decode("ascii"))


def load(
    instance_path: Path, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return the settings: defaults, then environment (NAME_FILE for secrets), then explicit overrides, all typed;
    raise SettingsError with a French line per bad value. Development generates the missing secret and data keys, never
    production."""
    source = EnvironSource(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    # An override of None or "" is no setting, as an empty variable is.
    given = {**source(), **{k: v for k, v in overrides.items() if k in Settings.model_fields and v not in (None, "")}}
    problems = list(source.problems)
    try:
        typed = Settings(**given)
    except ValidationError as exc:
        problems += [explain(error, given) for error in exc.errors()]
    if problems:
        raise SettingsError(problems)
    settings: dict[str, Any] = {**FLASK, **typed.model_dump()}
    settings.update({k: v for k, v in overrides.items() if k not in Settings.model_fields})
    if settings["DISPATCH_SMTP_PORT"] is None:
        settings["DISPATCH_SMTP_PORT"] = SMTP_PORTS[settings["DISPATCH_SMTP_SECURITY"]]
    if not settings["DISPATCH_DATABASE_URL"]:
        private_folder(instance_path)  # the database file is created 0600 on first connection (dispatch.db)
        settings["DISPATCH_DATABASE_URL"] = f"sqlite:///{instance_path / 'dispatch.sqlite3'}"
    if not settings["DISPATCH_SECRET_KEY"] and not is_production(settings):
        settings["DISPATCH_SECRET_KEY"] = instance_secret(instance_path)  # production refuses to start without one
    if not settings["DISPATCH_DATA_KEY"] and not is_production(settings):
        settings["DISPATCH_DATA_KEY"] = instance_data_key(instance_path)  # production refuses to start without one
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
    """Tell whether the service runs in production (DISPATCH_ENV, production unless it says development).

    The one place DISPATCH_ENV is read: production refuses the demo defaults (`production_problems`) and asks the
    accounts that manage others for their second factor.
    """
    return str(config.get("DISPATCH_ENV") or "production").strip().lower() != "development"


TRANSPORTS = {
    "DISPATCH_PUSH_BACKEND": "fcm",
    "DISPATCH_WEBPUSH_BACKEND": "webpush",
    "DISPATCH_SMS_BACKEND": "twilio ou ovh",
    "DISPATCH_MAIL_BACKEND": "smtp",
}
# Endpoints that may be reached without TLS in production only on loopback (a local relay or proxy).
RELAYS = ("DISPATCH_FCM_URL", "DISPATCH_TWILIO_URL", "DISPATCH_OVH_URL", "DISPATCH_ANNUAIRE_URL")


def loopback(host: str | None) -> bool:
    """Tell whether `host` is a loopback address (127.0.0.0/8, ::1), never a name that might resolve elsewhere."""
    try:
        return ipaddress.ip_address((host or "").strip("[]")).is_loopback
    except ValueError:
        return False


def production_problems(config: Mapping[str, Any]) -> list[str]:
    """Return one French line per demo default production must not start with; none in development."""
    if not is_production(config):
        return []
    problems = []
    for name, real in TRANSPORTS.items():
        if config.get(name) == "inbox":
            problems.append(
                f"{name}=inbox : en production les messages doivent partir ({name}={real}), pas rester dans la boîte de "
                "démonstration" + PROBLEM_END
            )
    if dev_inbox(config):
        problems.append(
            "DISPATCH_DEV_INBOX est défini : la boîte de réception de démonstration est réservée au développement" + PROBLEM_END
        )
    if not public_https(config):
        problems.append(
            f"DISPATCH_PUBLIC_URL={config.get('DISPATCH_PUBLIC_URL')!r} : une adresse https:// est attendue en production "
            "(liens des SMS, rappels de Twilio)" + PROBLEM_END
        )
    for name in ("DISPATCH_SECRET_KEY", "DISPATCH_VAPID_PRIVATE_KEY", "DISPATCH_DATA_KEY"):
        if not str(config.get(name) or "").strip():
            problems.append(
                f"{name} manque (ou {name}_FILE) : rien n'est généré en production, chaque processus doit avoir la même clé"
                + PROBLEM_END
            )
    if config.get("DISPATCH_CLOCK_FILE"):
        problems.append("DISPATCH_CLOCK_FILE est défini : l'horloge décalée est réservée aux tests" + PROBLEM_END)
    for name in RELAYS:
        url = urlsplit(str(config.get(name) or "").strip())
        if url.scheme == "http" and not loopback(url.hostname):
            problems.append(
                f"{name}={config.get(name)!r} : https:// est attendu, sauf sur la boucle locale (127.0.0.1, ::1)" + PROBLEM_END
            )
    plain_mail = config.get("DISPATCH_MAIL_BACKEND") == "smtp" and config.get("DISPATCH_SMTP_SECURITY") == "none"
    if plain_mail and not loopback(str(config.get("DISPATCH_SMTP_HOST") or "")):
        problems.append(
            f"DISPATCH_SMTP_SECURITY=none vers {config.get('DISPATCH_SMTP_HOST')!r} : sans TLS, seul un relais sur la "
            "boucle locale (127.0.0.1, ::1) est admis en production" + PROBLEM_END
        )
    return problems


def psc_configured(config: Mapping[str, Any]) -> bool:
    """Tell whether signing in with Pro Santé Connect is offered: an issuer and a client id are set."""
    return bool(str(config.get("DISPATCH_PSC_ISSUER") or "").strip() and str(config.get("DISPATCH_PSC_CLIENT_ID") or "").strip())
