"""Where sign-in sends back to (issue 14, point 5): a path of this site only, parsed; never another host, never a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import PASSWORD
from tests.pages.test_browser import browser, server, sign_in  # noqa: F401 -- fixtures of the browser tests

HOSTILE = [
    "/%09/evil.example/x",
    "/%0a/evil.example/x",
    "/%0d%0aSet-Cookie:%20x=1",
    "//evil.example/x",
    "/\\evil.example/x",
    "/%5Cevil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/%00",
    "%2F%2Fevil.example",
    "/%E2%80%A8/evil.example",
    " //evil.example",
]


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    return {"operator": make.member(make.community(), "operator")}


@pytest.mark.parametrize("target", HOSTILE)
def test_a_hostile_next_sends_home(world: dict[str, Any], page_client: Any, target: str) -> None:
    page_client.get("/connexion")
    response = page_client.post(f"/connexion?next={target}", {"login": world["operator"].login, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/console"


def test_a_path_of_this_site_is_kept(world: dict[str, Any], page_client: Any) -> None:
    page_client.get("/connexion")
    target = quote("/console/demandes/3?reprise=1#haut", safe="")
    response = page_client.post(f"/connexion?next={target}", {"login": world["operator"].login, "password": PASSWORD})
    assert response.headers["Location"] == "/console/demandes/3?reprise=1#haut"


@pytest.mark.browser
def test_chromium_stays_on_the_site_after_signing_in_with_a_tab_in_next(
    make: Any,
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    operator = make.member(make.community(), "operator")
    driver = browser("redirect", 1000, 800)
    sign_in(driver, server, operator.login, path="/connexion?next=/%09/evil.example/x")
    assert driver.current_url.startswith(server + "/console"), driver.current_url
