"""'Rester connecté sur ce téléphone' (issue 22, item 8): a physician's session of 30 days that survives the browser's
closing, revocable from 'Se déconnecter partout'; an operator's or coordinator's stays a short one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from dispatch.auth.models import Token
from dispatch.db import db
from tests.conftest import PASSWORD
from tests.pages.conftest import PageClient


def sign_in(app: Any, login: str, *, remember: bool) -> tuple[PageClient, Any]:
    page = PageClient(app)
    html = page.get("/connexion").get_data(as_text=True)
    assert 'name="remember"' in html and "Rester connecté sur ce téléphone" in html
    form = {"login": login, "password": PASSWORD, **({"remember": "1"} if remember else {})}
    return page, page.post("/connexion", form)


def lifetime(login_user_id: int, clock: Any) -> timedelta:
    token = db.session.scalars(select(Token).where(Token.user_id == login_user_id, Token.scope == "page")).all()[-1]
    return token.expires_at - clock.now()  # type: ignore[no-any-return]


def test_a_physician_stays_signed_in_on_their_phone_for_30_days_until_signed_out_everywhere(
    app: Any, make: Any, clock: Any
) -> None:
    community = make.community()
    physician = make.member(community, "physician")
    page, response = sign_in(app, physician.user.login, remember=True)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "snp_session=" in cookie and "Expires=" in cookie  # kept when the browser closes
    assert lifetime(physician.user.id, clock) == timedelta(days=30)
    clock.advance(days=29)
    assert page.get("/m/").status_code == 200  # still signed in
    out = page.post("/compte/deconnexion-partout")
    assert out.status_code == 302 and out.headers["Location"] == "/connexion"
    assert page.get("/m/").status_code == 302  # revoked: to the sign-in page
    assert (
        lifetime(physician.user.id, clock) <= timedelta(0)
        or db.session.scalars(select(Token.revoked_at).where(Token.user_id == physician.user.id, Token.scope == "page")).all()[-1]
        is not None
    )


def test_a_desk_account_keeps_a_short_session_whatever_is_ticked(app: Any, make: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    page, response = sign_in(app, operator.login, remember=True)
    assert response.status_code == 302 and "Expires=" not in response.headers["Set-Cookie"]
    assert lifetime(operator.id, clock) == timedelta(hours=12)
    clock.advance(hours=12, seconds=1)
    assert page.get("/console").status_code == 302


def test_without_the_box_a_physicians_session_is_the_usual_one(app: Any, make: Any, clock: Any) -> None:
    community = make.community()
    physician = make.member(community, "physician")
    _, response = sign_in(app, physician.user.login, remember=False)
    assert "Expires=" not in response.headers["Set-Cookie"]
    assert lifetime(physician.user.id, clock) == timedelta(hours=12)
