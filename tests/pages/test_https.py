"""Served over https (issue 23 point 12): Secure cookies, HSTS, and the .ics naming the public address only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dispatch import create_app
from dispatch.notify.inbox import Recorder
from dispatch.runtime import Ports
from tests.conftest import PASSWORD, TEST_SETTINGS, FakeClock, serving
from tests.pages.conftest import PageClient

PUBLIC = "https://snp.cpts-champigny.fr"


@pytest.fixture
def app(database_url: str, clock: FakeClock, ports: dict[str, Recorder]) -> Iterator[Any]:
    """The application as the public reaches it: DISPATCH_PUBLIC_URL in https."""
    settings = {**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url, "DISPATCH_PUBLIC_URL": PUBLIC}
    application = create_app(settings, clock=clock, ports=Ports(**ports))
    with serving(application):
        yield application


def test_the_session_cookie_is_secure_and_every_answer_asks_for_https(app: Any, make: Any) -> None:
    physician = make.member(make.community(), "physician")
    client = PageClient(app)
    signed_in = client.sign_in(physician.user.login)
    assert signed_in.status_code == 302
    cookie = signed_in.headers["Set-Cookie"]
    assert "snp_session=" in cookie and "; Secure" in cookie and "HttpOnly" in cookie
    for answer in (signed_in, client.get("/connexion"), app.test_client().get("/api/v1/healthz")):
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_the_calendar_file_names_the_public_address_whatever_host_the_request_gives(app: Any, make: Any) -> None:
    community = make.community()
    operator, gp = make.member(community, "operator"), make.member(community, "physician", address="12 rue Jaurès")
    opened = make.open(operator, community, treating=gp)
    client = PageClient(app)
    secure = {"base_url": "https://localhost"}  # the test client keeps a Secure cookie for https only
    client.get("/connexion", **secure)
    client.post("/connexion", {"login": gp.user.login, "password": PASSWORD}, **secure)
    client.get(f"/m/requests/{opened['id']}", **secure)
    accepted = client.post(f"/m/requests/{opened['id']}/accepter", {"time": "15:30"}, **secure)
    assert accepted.status_code in (302, 303), accepted.get_data(as_text=True)
    session = client.http.get_cookie("snp_session", domain="localhost")
    assert session is not None and session.secure
    # The physician's own session, through a link or a proxy that gives another Host.
    ics = app.test_client(use_cookies=False).get(
        f"/m/requests/{opened['id']}/rendez-vous.ics",
        base_url="https://evil.example",
        headers={"Cookie": f"snp_session={session.value}"},
    )
    assert ics.status_code == 200
    body = ics.get_data(as_text=True).replace("\r\n ", "")  # unfolded
    assert f"UID:snp-dispatch-request-{opened['id']}@snp.cpts-champigny.fr\r\n" in body
    assert f"URL:{PUBLIC}/m/requests/{opened['id']}\r\n" in body
    assert "evil.example" not in body and "localhost" not in body
