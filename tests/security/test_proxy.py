"""The client's address behind a reverse proxy (issue 14, point 4): DISPATCH_PROXY_HOPS, werkzeug's ProxyFix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from dispatch import create_app
from dispatch.auth.models import LoginFailure
from dispatch.db import db
from dispatch.runtime import Ports
from dispatch.wiring import ConfigurationError
from tests.conftest import PASSWORD, TEST_SETTINGS, serving

PROXY = {"REMOTE_ADDR": "127.0.0.1"}


@pytest.fixture
def app(database_url: str, clock: Any, ports: Any) -> Iterator[Any]:
    """The test application behind one reverse proxy."""
    settings = {**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url, "DISPATCH_PROXY_HOPS": "1"}
    application = create_app(settings, clock=clock, ports=Ports(**ports))
    with serving(application):
        yield application


def test_behind_the_proxy_each_client_is_throttled_on_its_own_address(app: Any, make: Any) -> None:
    operator = make.member(make.community(), "operator")
    client = app.test_client()
    for _ in range(5):
        wrong = {"login": operator.login, "password": "wrong"}
        response = client.post("/api/v1/auth/token", json=wrong, environ_base=PROXY, headers={"X-Forwarded-For": "198.51.100.7"})
        assert response.status_code == 401
    assert set(db.session.scalars(select(LoginFailure.address))) == {"198.51.100.7"}
    # Another client behind the same proxy signs in: the proxy's own address was never throttled.
    right = {"login": operator.login, "password": PASSWORD}
    other = client.post("/api/v1/auth/token", json=right, environ_base=PROXY, headers={"X-Forwarded-For": "203.0.113.9"})
    assert other.status_code == 200


def test_without_hops_a_forged_header_is_ignored(database_url: str, clock: Any, ports: Any) -> None:
    settings = {**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url}  # DISPATCH_PROXY_HOPS: 0 by default
    with serving(create_app(settings, clock=clock, ports=Ports(**ports))) as direct:
        direct.test_client().post(
            "/api/v1/auth/token",
            json={"login": "nobody", "password": "x"},
            environ_base={"REMOTE_ADDR": "192.0.2.1"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        assert set(db.session.scalars(select(LoginFailure.address))) == {"192.0.2.1"}


def test_bad_hops_refuse_to_start(database_url: str) -> None:
    with pytest.raises(ConfigurationError, match="DISPATCH_PROXY_HOPS"):
        create_app({**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url, "DISPATCH_PROXY_HOPS": "un"})
