"""Issue 23, point 6: everyone behind one address (a proxy with DISPATCH_PROXY_HOPS=0) is not locked out by random
logins; issue 23, point 11: the password change is throttled as a sign-in is."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from dispatch import create_app
from dispatch.runtime import Ports
from tests.conftest import PASSWORD, TEST_SETTINGS, serving
from tests.pages.conftest import PageClient

PROXY = {"REMOTE_ADDR": "10.0.0.1"}  # the reverse proxy every request comes through


def test_thirty_random_logins_do_not_lock_out_the_users_behind_the_same_proxy(make: Any, world: Any, clock: Any) -> None:
    for n in range(30):
        body = {"login": f"random-{n}", "password": "guess"}
        assert make.call("POST", "/auth/token", json=body, environ_base=PROXY).status_code == 401
    assert make.call("POST", "/auth/token", json={"login": "random-x", "password": "g"}, environ_base=PROXY).status_code == 429
    # Every member behind the proxy still signs in with their password, on the API and on the pages.
    for key in ("coordinator", "operator", "physician"):
        who = world["a"][key]
        login = getattr(who, "user", who).login
        answer = make.call("POST", "/auth/token", json={"login": login, "password": PASSWORD}, environ_base=PROXY)
        assert answer.status_code == 200, (key, answer.json)
    page = PageClient(make.app)
    page.http.environ_base.update(PROXY)
    assert page.sign_in(world["b"]["operator"].login).status_code == 302
    # A holder who mistypes once waits the per-(login, address) delay only, not the address's 15 minutes.
    login = world["b"]["coordinator"].login
    assert make.call("POST", "/auth/token", json={"login": login, "password": "typo"}, environ_base=PROXY).status_code == 429
    clock.advance(seconds=30)
    assert make.call("POST", "/auth/token", json={"login": login, "password": PASSWORD}, environ_base=PROXY).status_code == 200


def test_a_warning_once_when_forwarded_requests_arrive_and_no_hop_is_set(
    database_url: str, clock: Any, ports: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url}  # DISPATCH_PROXY_HOPS: 0
    with serving(create_app(settings, clock=clock, ports=Ports(**ports))) as app, caplog.at_level(logging.WARNING):
        client = app.test_client()
        client.get("/api/v1/healthz")
        assert "X-Forwarded-For" not in caplog.text
        for _ in range(3):
            client.get("/api/v1/healthz", headers={"X-Forwarded-For": "198.51.100.7"})
        warnings = [r for r in caplog.records if "DISPATCH_PROXY_HOPS" in r.getMessage()]
        assert len(warnings) == 1 and "198.51.100.7" not in caplog.text
    caplog.clear()
    behind = {**settings, "DISPATCH_PROXY_HOPS": "1"}
    with serving(create_app(behind, clock=clock, ports=Ports(**ports))) as app, caplog.at_level(logging.WARNING):
        app.test_client().get("/api/v1/healthz", headers={"X-Forwarded-For": "198.51.100.7"})
        assert "DISPATCH_PROXY_HOPS" not in caplog.text


def test_the_password_change_is_throttled_like_a_sign_in(make: Any, world: Any, clock: Any, app: Any) -> None:
    operator = world["a"]["operator"]
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        wrong = make.call("POST", "/me/password", operator, json={"current_password": "guess", "new_password": "x" * 12})
        assert wrong.status_code == 422
    slowed = make.call("POST", "/me/password", operator, json={"current_password": PASSWORD, "new_password": "y" * 12})
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "30"
    assert slowed.mimetype == "application/problem+json" and slowed.json["code"] == "too_many_attempts"
    # The guesses count as the sign-in's: the same login from the same address waits there too.
    assert make.call("POST", "/auth/token", json={"login": operator.login, "password": PASSWORD}).status_code == 429
    clock.advance(seconds=30)
    done = make.call("POST", "/me/password", operator, json={"current_password": PASSWORD, "new_password": "y" * 12})
    assert done.status_code == 204


def test_the_password_change_page_is_throttled_too(world: Any, app: Any) -> None:
    page = PageClient(app)
    assert page.sign_in(world["a"]["coordinator"].login).status_code == 302
    page.get("/compte")
    form = {"current_password": "guess", "new_password": "z" * 12, "new_password_again": "z" * 12}
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert page.post("/compte/mot-de-passe", form).status_code == 422
    slowed = page.post("/compte/mot-de-passe", {**form, "current_password": PASSWORD})
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "30"
    assert "Trop de tentatives" in slowed.get_data(as_text=True)
