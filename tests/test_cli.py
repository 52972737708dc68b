"""The `dispatch` command run through click's runner on the test database: create-user with a password or an invitation."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dispatch.auth.models import PasswordReset, User
from dispatch.cli import main
from dispatch.db import db
from dispatch.notify.models import OutboxMessage


@pytest.fixture
def run(app: Any, database_url: str) -> Any:
    """Return a function running `dispatch ARGS` on the test database, as an operator would in a shell."""
    env: dict[str, str | None] = {key: None for key in os.environ if key.startswith("DISPATCH_")}
    env.update(
        {
            "DISPATCH_ENV": "development",
            "DISPATCH_DATABASE_URL": database_url,
            "DISPATCH_SECRET_KEY": "cli-secret",
            "DISPATCH_PUBLIC_URL": "https://snp.cpts.example.fr",
            "DISPATCH_SMS_BACKEND": "inbox",
            "DISPATCH_MAIL_BACKEND": "inbox",
            "DISPATCH_PUSH_BACKEND": "inbox",
        }
    )

    def invoke(*args: str) -> Any:
        result = CliRunner().invoke(main, list(args), env=env)
        db.session.expire_all()
        return result

    return invoke


def test_create_user_with_a_password(run: Any) -> None:
    result = run("create-user", "--login", "root", "--password", "un-long-mot-de-passe", "--name", "Admin Plateforme")
    assert result.exit_code == 0, result.output
    assert result.output == "Compte admin root créé.\n"
    user = db.session.scalar(select(User).where(User.login == "root"))
    assert user is not None and user.role == "admin" and user.password_set_at is not None
    assert db.session.scalar(select(PasswordReset.id)) is None and db.session.scalar(select(OutboxMessage.id)) is None


def test_create_user_invited_by_mail(run: Any) -> None:
    result = run(
        "create-user", "--login", "alice", "--name", "Alice Martin", "--invite", "mail", "--email", "alice@cpts.example.fr"
    )
    assert result.exit_code == 0, result.output
    assert "Compte admin alice créé." in result.output
    assert "Invitation à choisir son mot de passe envoyée par mail à alice@cpts.example.fr (lien valable 7 jours)." in result.output
    user = db.session.scalar(select(User).where(User.login == "alice"))
    assert user is not None and user.role == "admin" and user.password_set_at is None  # nobody knows its password yet
    invitation = db.session.scalar(select(PasswordReset).where(PasswordReset.user_id == user.id))
    assert invitation is not None and invitation.purpose == "invitation" and invitation.created_by_id is None
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "invitation"))
    assert message is not None and message.channel == "mail" and message.address == "alice@cpts.example.fr"
    body = message.payload["body"]
    assert "Un compte d'administrateur vous a été ouvert sur SNP Dispatch" in body and "Votre identifiant\u202f: alice" in body
    assert "https://snp.cpts.example.fr/definir-mot-de-passe/" in body and "None" not in body + message.payload["subject"]


def test_create_user_invited_by_sms(run: Any) -> None:
    result = run("create-user", "--login", "bob", "--invite", "sms", "--phone", "06 12 34 56 78")
    assert result.exit_code == 0, result.output
    assert "Invitation à choisir son mot de passe envoyée par SMS au +33612345678" in result.output
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "invitation"))
    assert message is not None and message.channel == "sms" and message.address == "+33612345678"
    assert message.payload["body"].startswith("SNP Dispatch")
    assert "un compte vous a été ouvert. Identifiant" in message.payload["body"]


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["--login", "x"], 2, "Donnez --password ou --invite sms|mail"),
        (["--login", "x", "--password", "un-long-mot-de-passe", "--invite", "mail", "--email", "x@y.fr"], 2, "l'un des deux"),
        (["--login", "x", "--invite", "fax"], 2, "'fax' is not one of"),
        (["--login", "x", "--invite", "mail"], 1, "Une adresse email (--email) est nécessaire pour inviter par mail."),
        (["--login", "x", "--invite", "mail", "--email", "pas-une-adresse"], 1, "Adresse email invalide."),
        (["--login", "x", "--invite", "sms"], 1, "Un numéro de portable (--phone) est nécessaire pour inviter par SMS."),
        (["--login", "x", "--invite", "sms", "--phone", "01 45 67 89 10"], 1, "Un numéro de portable (--phone)"),
        (["--login", "x", "--invite", "sms", "--phone", "12"], 1, "Numéro de téléphone invalide."),
    ],
)
def test_create_user_refuses_what_it_cannot_do(run: Any, args: list[str], code: int, said: str) -> None:
    result = run("create-user", *args)
    assert result.exit_code == code and said in result.output, result.output
    assert db.session.scalar(select(User.id).where(User.login == "x")) is None
    assert db.session.scalar(select(OutboxMessage.id)) is None


def test_create_user_twice(run: Any) -> None:
    assert run("create-user", "--login", "carol", "--invite", "mail", "--email", "carol@cpts.example.fr").exit_code == 0
    again = run("create-user", "--login", "carol", "--invite", "mail", "--email", "carol@cpts.example.fr")
    assert again.exit_code == 1 and "L'identifiant carol existe déjà." in again.output
    assert len(db.session.scalars(select(OutboxMessage.id)).all()) == 1
