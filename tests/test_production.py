"""Production mode (issue 24, point 1): every demo default refused with one French line, secrets from files, gunicorn.

The refusals run the real `dispatch web` and `dispatch serve` in a subprocess, from a full valid production
configuration (transports to loopback relays) with one thing broken at a time.
"""

from __future__ import annotations

import http.client
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from py_vapid import Vapid02

from config import settings
from config.reference import render
from dispatch.cli import upgrade
from tests.system import harness

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def production(tmp_path: Path) -> dict[str, str]:
    """Return the environment of a complete production configuration: its secrets in files, relays on loopback."""
    vapid = Vapid02()
    vapid.generate_keys()
    (tmp_path / "vapid.pem").write_bytes(vapid.private_pem())
    (tmp_path / "secret_key").write_text("production-secret\n")
    (tmp_path / "data_key").write_text(Fernet.generate_key().decode() + "\n")
    env = harness.service_env(f"sqlite:///{tmp_path / 'dispatch.sqlite3'}")  # migrated by the tests that serve
    del env["DISPATCH_SECRET_KEY"]
    env.update(
        {
            "DISPATCH_ENV": "production",
            "DISPATCH_SECRET_KEY_FILE": str(tmp_path / "secret_key"),
            "DISPATCH_DATA_KEY_FILE": str(tmp_path / "data_key"),
            "DISPATCH_VAPID_PRIVATE_KEY": str(tmp_path / "vapid.pem"),
            "DISPATCH_PUBLIC_URL": "https://snp.cpts.example.fr",
            "DISPATCH_PUSH_BACKEND": "fcm",
            "DISPATCH_FCM_URL": "http://127.0.0.1:9",
            "DISPATCH_FCM_PROJECT": "snp-production",
            "DISPATCH_WEBPUSH_BACKEND": "webpush",
            "DISPATCH_SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "twilio-token",
            "DISPATCH_SMS_FROM": "+33700000000",
            "DISPATCH_TWILIO_URL": "http://[::1]:9",
            "DISPATCH_MAIL_BACKEND": "smtp",
            "DISPATCH_SMTP_HOST": "127.0.0.1",
            "DISPATCH_SMTP_SECURITY": "none",
            "DISPATCH_MAIL_SMTP_HOST": "127.0.0.1",  # the ordinary relay: a local MTA
            "DISPATCH_MAIL_SMTP_SECURITY": "none",
            "DISPATCH_CUSTODIAN_ID": "312345678901234",
            "DISPATCH_MSSANTE_NIL": "NIL-0042-CPTS",
        }
    )
    return env


REFUSALS = {
    "push-inbox": ({"DISPATCH_PUSH_BACKEND": "inbox"}, "DISPATCH_PUSH_BACKEND=inbox : en production les messages doivent partir"),
    "webpush-inbox": ({"DISPATCH_WEBPUSH_BACKEND": "inbox"}, "DISPATCH_WEBPUSH_BACKEND=inbox : en production"),
    "sms-inbox": ({"DISPATCH_SMS_BACKEND": "inbox"}, "DISPATCH_SMS_BACKEND=inbox : en production"),
    "mail-inbox": ({"DISPATCH_MAIL_BACKEND": "inbox"}, "DISPATCH_MAIL_BACKEND=inbox : en production"),
    "dev-inbox": ({"DISPATCH_DEV_INBOX": "1"}, "DISPATCH_DEV_INBOX est défini : la boîte de réception de démonstration"),
    "public-url-http": (
        {"DISPATCH_PUBLIC_URL": "http://snp.cpts.example.fr"},
        "DISPATCH_PUBLIC_URL='http://snp.cpts.example.fr' : une adresse https://",
    ),
    "public-url-default": ({"DISPATCH_PUBLIC_URL": ""}, "DISPATCH_PUBLIC_URL='http://127.0.0.1:5000' : une adresse https://"),
    "no-secret-key": (
        {"DISPATCH_SECRET_KEY_FILE": ""},
        "DISPATCH_SECRET_KEY manque (ou DISPATCH_SECRET_KEY_FILE) : rien n'est généré",
    ),
    "no-data-key": (
        {"DISPATCH_DATA_KEY_FILE": ""},
        "DISPATCH_DATA_KEY manque (ou DISPATCH_DATA_KEY_FILE) : rien n'est généré en production",
    ),
    "no-vapid-key": ({"DISPATCH_VAPID_PRIVATE_KEY": ""}, "DISPATCH_VAPID_PRIVATE_KEY manque (ou DISPATCH_VAPID_PRIVATE_KEY_FILE)"),
    "clock-file": (
        {"DISPATCH_CLOCK_FILE": "/tmp/offset"},
        "DISPATCH_CLOCK_FILE est défini : l'horloge décalée est réservée aux tests",
    ),
    "fcm-clear-text": (
        {"DISPATCH_FCM_URL": "http://fcm.example.fr"},
        "DISPATCH_FCM_URL='http://fcm.example.fr' : https:// est attendu",
    ),
    "smtp-clear-text": ({"DISPATCH_SMTP_HOST": "smtp.example.fr"}, "DISPATCH_SMTP_SECURITY=none vers 'smtp.example.fr' : sans TLS"),
}


def run_cli(env: dict[str, str], *args: str) -> tuple[int, list[str], str]:
    """Run `dispatch ARGS` to its end; return its status, its stderr's lines and its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "dispatch.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stderr.splitlines(), done.stdout


@pytest.mark.parametrize("case", list(REFUSALS))
def test_production_problems_says_each_demo_default_in_one_line(production: dict[str, str], case: str, tmp_path: Path) -> None:
    change, line = REFUSALS[case]
    problems = settings.production_problems(settings.load(tmp_path / "instance", environ={**production, **change}))
    assert len(problems) == 1 and problems[0].startswith(line), problems
    assert settings.production_problems(settings.load(tmp_path / "instance", environ=production)) == []


@pytest.mark.slow
@pytest.mark.parametrize("command", ["web", "serve"])
@pytest.mark.parametrize("case", list(REFUSALS))
def test_production_refuses_each_demo_default_with_one_french_line(production: dict[str, str], command: str, case: str) -> None:
    change, line = REFUSALS[case]
    port = harness.free_port()
    status, errors, out = run_cli({**production, **change}, command, "--port", str(port))

    assert status != 0
    assert len(errors) == 1 and errors[0].startswith(line) and errors[0].endswith("; le service ne démarre pas."), errors
    assert out == ""  # nothing announced, nothing started: no gunicorn, no worker, no port bound
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/api/v1/healthz")


def test_every_problem_is_said_at_once_one_line_each(production: dict[str, str]) -> None:
    broken = {**production, "DISPATCH_SMS_BACKEND": "inbox", "DISPATCH_VAPID_PRIVATE_KEY": "", "DISPATCH_CLOCK_FILE": "/tmp/x"}
    status, errors, _ = run_cli(broken, "web", "--port", str(harness.free_port()))

    assert status == 1
    assert [line.split(" ")[0] for line in errors] == [
        "DISPATCH_SMS_BACKEND=inbox",
        "DISPATCH_VAPID_PRIVATE_KEY",
        "DISPATCH_CLOCK_FILE",
    ]


def test_a_bad_value_is_one_french_line_too(production: dict[str, str]) -> None:
    status, errors, _ = run_cli({**production, "DISPATCH_PROXY_HOPS": "un", "DISPATCH_SMS_BACKEND": "sfr"}, "worker")

    assert status == 1
    assert errors == [
        "DISPATCH_PROXY_HOPS='un' : nombre entier attendu ; le service ne démarre pas.",
        "DISPATCH_SMS_BACKEND='sfr' : valeur attendue parmi : 'inbox', 'twilio', 'ovh' ; le service ne démarre pas.",
    ]


def test_development_allows_the_demo_defaults_and_keeps_generated_keys(tmp_path: Path) -> None:
    config = settings.load(tmp_path, environ={"DISPATCH_ENV": "development"})
    assert settings.production_problems(config) == [] and config["SECRET_KEY"] == (tmp_path / "secret_key").read_text()
    production = settings.load(tmp_path / "prod", environ={})
    assert production["SECRET_KEY"] == "" and not (tmp_path / "prod" / "secret_key").exists()  # nothing generated
    assert production["DISPATCH_DATA_KEY"] == "" and not (tmp_path / "prod" / "data_key").exists()


def test_development_generates_the_data_key_into_the_instance_folder_readable_by_its_owner_only(tmp_path: Path) -> None:
    config = settings.load(tmp_path / "instance", environ={"DISPATCH_ENV": "development"})
    path = tmp_path / "instance" / "data_key"
    assert config["DISPATCH_DATA_KEY"] == path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600
    Fernet(config["DISPATCH_DATA_KEY"])  # a Fernet key
    again = settings.load(tmp_path / "instance", environ={"DISPATCH_ENV": "development"})
    assert again["DISPATCH_DATA_KEY"] == config["DISPATCH_DATA_KEY"]  # kept, not drawn again: what it wrote still reads


def test_a_data_key_that_is_no_fernet_key_is_one_french_line(tmp_path: Path) -> None:
    with pytest.raises(settings.SettingsError) as refused:
        settings.load(tmp_path, environ={"DISPATCH_ENV": "development", "DISPATCH_DATA_KEY_OLD": "pas-une-cle"})
    assert refused.value.problems == [
        "DISPATCH_DATA_KEY_OLD=*** : clé Fernet attendue (32 octets en base64url, "
        "cryptography.fernet.Fernet.generate_key()) ; le service ne démarre pas."
    ]


def test_a_secret_is_read_from_the_file_name_file_gives(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-a-file\n")
    config = settings.load(tmp_path, environ={"DISPATCH_ENV": "development", "TWILIO_AUTH_TOKEN_FILE": str(tmp_path / "token")})
    assert config["TWILIO_AUTH_TOKEN"] == "from-a-file"

    with pytest.raises(settings.SettingsError) as both:
        settings.load(tmp_path, environ={"TWILIO_AUTH_TOKEN": "x", "TWILIO_AUTH_TOKEN_FILE": str(tmp_path / "token")})
    assert both.value.problems == [
        "TWILIO_AUTH_TOKEN et TWILIO_AUTH_TOKEN_FILE sont donnés tous les deux : gardez l'un des deux ; le service ne démarre pas."
    ]
    with pytest.raises(settings.SettingsError, match="DISPATCH_METRICS_TOKEN_FILE='/nowhere' : fichier illisible"):
        settings.load(tmp_path, environ={"DISPATCH_METRICS_TOKEN_FILE": "/nowhere"})


def test_every_secret_may_come_from_a_file() -> None:
    expected = {
        "DISPATCH_DATABASE_URL",
        "DISPATCH_SECRET_KEY",
        "DISPATCH_DATA_KEY",
        "DISPATCH_DATA_KEY_OLD",
        "DISPATCH_VAPID_PRIVATE_KEY",
        "DISPATCH_METRICS_TOKEN",
        "TWILIO_AUTH_TOKEN",
        "DISPATCH_IMAP_PASSWORD",
        "DISPATCH_ANNUAIRE_API_KEY",
        "DISPATCH_MAIL_SMTP_PASSWORD",
        "OVH_APPLICATION_SECRET",
        "OVH_CONSUMER_KEY",
    }
    assert set(settings.SECRETS) == expected


def test_the_vapid_key_may_be_given_as_pem_text(tmp_path: Path) -> None:
    from dispatch.notify.vapid import load_or_create_vapid_key

    vapid = Vapid02()
    vapid.generate_keys()
    (tmp_path / "vapid.pem").write_bytes(vapid.private_pem())
    config = settings.load(tmp_path, environ={"DISPATCH_VAPID_PRIVATE_KEY_FILE": str(tmp_path / "vapid.pem")})
    key = load_or_create_vapid_key(config["DISPATCH_VAPID_PRIVATE_KEY"], tmp_path / "instance", create=False)
    assert key.private_pem() == bytes(vapid.private_pem()) and not (tmp_path / "instance").exists()


def test_the_settings_reference_page_is_the_one_the_code_writes() -> None:
    committed = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/settings.md is stale: run `dispatch settings-doc --out docs/settings.md`"


def test_the_reference_page_names_every_setting_the_readme_documents() -> None:
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`((?:DISPATCH|TWILIO|LOGIN|ARGON2|OUTBOX|PROMETHEUS)_[A-Z0-9_]+)`", readme))
    documented -= {f"{name}_FILE" for name in settings.SECRETS}
    assert documented <= set(settings.ENV_KEYS), documented - set(settings.ENV_KEYS)


def _get(base: str, path: str) -> int:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.slow
def test_a_valid_production_configuration_serves_with_gunicorn(production: dict[str, str], tmp_path: Path) -> None:
    upgrade(production["DISPATCH_DATABASE_URL"])
    port = harness.free_port()
    argv = [sys.executable, "-m", "dispatch.cli", "web", "--port", str(port), "--workers", "1"]
    web = harness.Process("web", argv, production, tmp_path)
    try:
        harness.wait_for(lambda: not web.alive() or _answers(port), timeout=60, what="dispatch web")
        assert web.alive(), web.log()
        assert _get(f"http://127.0.0.1:{port}", "/api/v1/healthz") == 200
    finally:
        web.stop()
    log = web.log()
    assert "gunicorn, 1 processus web" in log and "Booting worker with pid" in log, log
    assert "development server" not in log and "Werkzeug" not in log


@pytest.mark.slow
def test_serve_in_production_runs_gunicorn_and_the_worker(production: dict[str, str], tmp_path: Path) -> None:
    upgrade(production["DISPATCH_DATABASE_URL"])
    port = harness.free_port()
    argv = [sys.executable, "-m", "dispatch.cli", "serve", "--port", str(port)]
    serve = harness.Process("serve", argv, production, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        harness.wait_for(lambda: not serve.alive() or _answers(port), timeout=60, what="dispatch serve")
        assert serve.alive(), serve.log()
        # The engine's health is 200 only once a worker's tick ran: the worker runs inside gunicorn's web process.
        harness.wait_for(lambda: _get(base, "/api/v1/health/engine") == 200, timeout=30, what="the worker's tick")
    finally:
        serve.stop()
    log = serve.log()
    assert "gunicorn" in log and "Booting worker with pid" in log, log
    assert "development server" not in log and "Werkzeug" not in log


def _answers(port: int) -> bool:
    try:
        return _get(f"http://127.0.0.1:{port}", "/api/v1/healthz") == 200
    except OSError:
        return False


def test_the_demo_is_refused_in_production(production: dict[str, str]) -> None:
    status, errors, out = run_cli(production, "demo")

    assert status == 1 and out == ""
    assert errors == ["dispatch demo crée des comptes aux mots de passe connus : réservé à DISPATCH_ENV=development."]


def test_secure_mail_without_an_ordinary_relay_is_one_french_line(production: dict[str, str], tmp_path: Path) -> None:
    """Invitations and password links never go through MSSanté (issue 25): smtp needs DISPATCH_MAIL_SMTP_HOST too."""
    from dispatch import wiring

    config = settings.load(tmp_path / "instance", environ={**production, "DISPATCH_MAIL_SMTP_HOST": ""})
    with pytest.raises(wiring.ConfigurationError) as refused:
        wiring.check_settings(config)
    assert refused.value.problems == [
        "DISPATCH_MAIL_BACKEND=smtp : DISPATCH_MAIL_SMTP_HOST manque, le relais du courrier ordinaire (invitations, "
        "liens de mot de passe) que MSSanté ne doit pas porter ; le service ne démarre pas."
    ]
