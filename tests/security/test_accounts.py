"""Sessions and accounts (issue 14, points 11 and 14).

11: the pages' cookie carried the raw API bearer token (signed, not encrypted): a leaked cookie was a 12-hour API
credential. It now holds a pages' session id that the API refuses.
14: change one's password, a coordinator's single-use reset link by SMS or mail (blanked in the outbox once sent),
sign out everywhere, "compte désactivé".
"""

from __future__ import annotations

import re
from typing import Any

from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from dispatch.auth import accounts
from dispatch.auth.models import PasswordReset
from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import DeliveryResult, Outcome
from tests.conftest import PASSWORD
from tests.pages.conftest import PageClient

NEW = "un tout nouveau mot de passe"


def _cookie_session(app: Any, client: PageClient) -> dict[str, Any]:
    cookie = client.http.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    assert cookie is not None
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return dict(serializer.loads(cookie.value))


def _signed_in(app: Any, who: Any, password: str = PASSWORD) -> PageClient:
    client = PageClient(app)
    assert client.sign_in(getattr(who, "user", who).login, password).status_code == 302
    client.get("/compte")
    return client


def test_the_session_cookie_is_no_api_credential(app: Any, make: Any, world: dict[str, Any]) -> None:
    operator = world["a"]["operator"]
    pages = _signed_in(app, operator)
    content = _cookie_session(app, pages)
    assert "token" not in content and set(content) >= {"sid"}
    leaked = make.client.get("/api/v1/me", headers={"Authorization": f"Bearer {content['sid']}"})
    assert leaked.status_code == 401
    assert pages.get("/console").status_code == 200  # the pages accept it


def test_a_user_changes_their_password_other_sessions_are_signed_out(app: Any, make: Any, world: dict[str, Any]) -> None:
    operator = world["a"]["operator"]
    phone_token = make.token(operator)
    pages = _signed_in(app, operator)
    wrong = pages.post("/compte/mot-de-passe", {"current_password": "pas le bon", "new_password": NEW, "new_password_again": NEW})
    assert wrong.status_code == 422 and "Mot de passe actuel incorrect." in wrong.get_data(as_text=True)
    changed = pages.post("/compte/mot-de-passe", {"current_password": PASSWORD, "new_password": NEW, "new_password_again": NEW})
    assert changed.status_code == 302
    assert pages.get("/console").status_code == 200  # this session stays
    assert make.client.get("/api/v1/me", headers={"Authorization": f"Bearer {phone_token}"}).status_code == 401
    assert make.client.post("/api/v1/auth/token", json={"login": operator.login, "password": NEW}).status_code == 200
    # The API too: the current bearer stays, the others go.
    token = make.client.post("/api/v1/auth/token", json={"login": operator.login, "password": NEW}).json["access_token"]
    body = {"current_password": NEW, "new_password": PASSWORD}
    assert make.client.post("/api/v1/me/password", json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 204
    assert pages.get("/console").status_code == 302  # the page session was another token: signed out
    assert make.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_sign_out_everywhere(app: Any, make: Any, world: dict[str, Any]) -> None:
    operator = world["a"]["operator"]
    phone_token = make.token(operator)
    desk, laptop = _signed_in(app, operator), _signed_in(app, operator)
    assert laptop.post("/compte/deconnexion-partout").status_code == 302
    assert desk.get("/console").status_code == 302 and laptop.get("/console").status_code == 302
    assert make.client.get("/api/v1/me", headers={"Authorization": f"Bearer {phone_token}"}).status_code == 401
    api_token = make.client.post("/api/v1/auth/token", json={"login": operator.login, "password": PASSWORD}).json["access_token"]
    headers = {"Authorization": f"Bearer {api_token}"}
    assert make.client.delete("/api/v1/auth/tokens", headers=headers).status_code == 204
    assert make.client.get("/api/v1/me", headers=headers).status_code == 401


def test_the_admin_sends_a_single_use_expiring_reset_link(
    app: Any, make: Any, world: dict[str, Any], ports: Any, clock: Any
) -> None:
    a = world["a"]
    member = a["physician"]
    other_token = make.token(member)
    # A coordinator of another community cannot; nor, since issue 23, theirs, for an account in use.
    assert (
        make.call(
            "POST", f"/communities/{a['community'].id}/members/{member.user.id}/password-reset", world["b"]["coordinator"]
        ).status_code
        == 404
    )
    theirs = make.call("POST", f"/communities/{a['community'].id}/members/{member.user.id}/password-reset", a["coordinator"])
    assert (theirs.status_code, theirs.json["code"]) == (403, "account_in_use")
    sent = make.call("POST", f"/communities/{a['community'].id}/members/{member.user.id}/password-reset", world["admin"])
    assert sent.status_code == 202
    make.deliver()
    (sms,) = [m for m in ports["sms"].sent if "mot de passe" in m.body]
    assert sms.to == member.user.phone
    link = re.search(r"https?://\S+/reinitialisation/(\S+)", sms.body)
    assert link is not None
    path = f"/reinitialisation/{link.group(1)}"
    page = PageClient(app)
    assert page.get(path).status_code == 200
    short = page.post(path, {"new_password": "court", "new_password_again": "court"})
    assert short.status_code == 422 and "entre 10 et 256 caractères" in short.get_data(as_text=True)
    done = page.post(path, {"new_password": NEW, "new_password_again": NEW})
    assert done.status_code == 302
    assert make.client.post("/api/v1/auth/token", json={"login": member.user.login, "password": NEW}).status_code == 200
    assert make.client.get("/api/v1/me", headers={"Authorization": f"Bearer {other_token}"}).status_code == 401
    again = PageClient(app).get(path)
    assert again.status_code == 404 and "plus valable" in again.get_data(as_text=True)  # single use
    # A new link expires after 24 hours.
    clock.advance(minutes=5)  # one link per member every 5 minutes
    make.call("POST", f"/communities/{a['community'].id}/members/{member.user.id}/password-reset", world["admin"])
    db.session.expire_all()
    assert db.session.query(PasswordReset).filter(PasswordReset.used_at.is_(None)).count() == 1
    make.deliver()
    latest = [m for m in ports["sms"].sent if "mot de passe" in m.body][-1]
    found = re.search(r"/reinitialisation/(\S+)", latest.body)
    assert found is not None
    clock.advance(hours=24)
    assert PageClient(app).get(f"/reinitialisation/{found.group(1)}").status_code == 404


def test_the_members_page_sends_the_link(app: Any, make: Any, world: dict[str, Any], ports: Any) -> None:
    a = world["a"]
    admin = _signed_in(app, world["admin"])
    page = admin.get(f"/pilotage/membres?community={a['community'].id}").get_data(as_text=True)
    assert f"/pilotage/membres/{a['operator'].id}/reinitialiser" in page
    response = admin.post(f"/pilotage/membres/{a['physician'].user.id}/reinitialiser")
    assert response.status_code == 302
    assert "Un lien de réinitialisation" in admin.get(response.headers["Location"]).get_data(as_text=True)


def _reset_rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "password_reset")))


def test_a_reset_link_by_sms_leaves_the_outbox_once_sent(
    app: Any, make: Any, world: dict[str, Any], ports: Any, clock: Any
) -> None:
    a = world["a"]
    member = a["physician"]
    path = f"/communities/{a['community'].id}/members/{member.user.id}/password-reset"
    assert make.call("POST", path, world["admin"], json={"channel": "sms"}).status_code == 202
    (row,) = _reset_rows()
    link = row.payload["link"]
    secret = link.rsplit("/", 1)[1]
    assert link in row.payload["body"]  # kept only while it must still be sent
    (reset,) = db.session.scalars(select(PasswordReset))
    assert secret not in repr([getattr(reset, c.key) for c in PasswordReset.__table__.columns])  # a hash only
    ports["sms"].script.append(DeliveryResult(outcome=Outcome.TRANSIENT, detail="twilio 503"))
    make.deliver()
    (row,) = _reset_rows()
    assert row.status == "pending" and row.payload["link"] == link  # not sent yet: the retry needs it
    clock.advance(minutes=10)  # the retry is due after its backoff
    make.deliver()
    (row,) = _reset_rows()
    assert row.status == "sent"
    assert secret not in str(row.payload) and row.payload["link"] == "[envoyé]"
    assert row.payload["body"].endswith("une seule fois) : [envoyé]")
    assert secret in ports["sms"].sent[-1].body  # the member got the real link
    assert PageClient(app).get(f"/reinitialisation/{secret}").status_code == 200


def test_a_reset_link_by_mail_goes_to_the_members_email(app: Any, make: Any, world: dict[str, Any], ports: Any) -> None:
    a = world["a"]
    member = a["physician"]
    path = f"/communities/{a['community'].id}/members/{member.user.id}/password-reset"
    refused = make.call("POST", path, world["admin"], json={"channel": "mail"})
    assert refused.status_code == 422 and refused.json["code"] == "no_email"
    assert make.call("POST", path, world["admin"], json={"channel": "pigeon"}).status_code == 422
    member.user.email = "marie.medecin@example.fr"
    db.session.commit()
    assert make.call("POST", path, world["admin"], json={"channel": "mail"}).status_code == 202
    make.deliver()
    (mail,) = [m for m in ports["mail"].sent if "mot de passe" in str(m["Subject"])]
    assert mail["To"] == "marie.medecin@example.fr" and mail["Subject"] == accounts.RESET_SUBJECT
    assert not mail.is_multipart() and mail["X-MSS-NIL"] is None  # a plain mail, not an MSSanté message
    text = mail.get_content()
    assert text.startswith(f"Bonjour {member.user.name},")
    found = re.search(r"https?://\S+/reinitialisation/(\S+)", text)
    assert found is not None
    (row,) = _reset_rows()
    assert row.channel == "mail" and row.status == "sent"
    assert found.group(1) not in str(row.payload) and "[envoyé]" in row.payload["body"]
    page = PageClient(app)
    assert page.get(f"/reinitialisation/{found.group(1)}").status_code == 200
    done = page.post(f"/reinitialisation/{found.group(1)}", {"new_password": NEW, "new_password_again": NEW})
    assert done.status_code == 302
    assert make.client.post("/api/v1/auth/token", json={"login": member.user.login, "password": NEW}).status_code == 200


def test_without_a_channel_the_link_goes_by_sms_else_by_mail(app: Any, make: Any, world: dict[str, Any], ports: Any) -> None:
    a = world["a"]
    member = a["physician"].user
    member.phone, member.email = None, "sans.portable@example.fr"
    db.session.commit()
    coordinator = _signed_in(app, world["admin"])
    response = coordinator.post(f"/pilotage/membres/{member.id}/reinitialiser")
    assert "envoyé par mail" in coordinator.get(response.headers["Location"]).get_data(as_text=True)
    (row,) = _reset_rows()
    assert row.channel == "mail" and row.address == "sans.portable@example.fr"
