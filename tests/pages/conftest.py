"""Fixtures of the page tests: signed-in test clients that carry their session's CSRF token."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class PageClient:
    """A Flask test client with its own cookie jar, signed in as one user."""

    def __init__(self, app: Any) -> None:
        self.http = app.test_client()
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.http.get(path, **kwargs)
        found = CSRF.search(response.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        return self.http.post(path, data=form, **kwargs)

    def sign_in(self, login: str, password: str = PASSWORD) -> Any:
        self.get("/connexion")
        return self.post("/connexion", {"login": login, "password": password})


@pytest.fixture
def as_user(app: Any) -> Any:
    """Return a function giving a client signed in as a User or a Physician."""

    def sign_in(who: Any) -> PageClient:
        client = PageClient(app)
        user = getattr(who, "user", who)
        response = client.sign_in(user.login)
        assert response.status_code == 302, response.get_data(as_text=True)
        client.get(response.headers["Location"])
        return client

    return sign_in


@pytest.fixture
def page_client(app: Any) -> PageClient:
    """Return a client that is not signed in."""
    return PageClient(app)
