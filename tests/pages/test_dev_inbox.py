"""The dev inbox (issue 14, point 2): served only with DISPATCH_DEV_INBOX=1, never on https, styled within the CSP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dispatch import create_app
from dispatch.db import db
from dispatch.notify.models import InboxMessage
from dispatch.runtime import Ports
from dispatch.wiring import ConfigurationError
from tests.conftest import T0, TEST_SETTINGS, serving
from tests.pages.test_browser import browser, server  # noqa: F401 -- fixtures of the browser tests

ON = {**TEST_SETTINGS, "DISPATCH_DEV_INBOX": "1"}


@pytest.fixture
def app(database_url: str, clock: Any, ports: Any) -> Iterator[Any]:
    """The test application with the dev inbox asked for, as `make run` does."""
    application = create_app({**ON, "DISPATCH_DATABASE_URL": database_url}, clock=clock, ports=Ports(**ports))
    with serving(application):
        yield application


def test_the_inbox_refuses_to_start_on_a_public_https_address(database_url: str) -> None:
    settings = {**ON, "DISPATCH_DATABASE_URL": database_url, "DISPATCH_PUBLIC_URL": "https://snp.cpts-exemple.fr"}
    with pytest.raises(ConfigurationError, match="DISPATCH_DEV_INBOX"):
        create_app(settings)
    create_app({**settings, "DISPATCH_DEV_INBOX": "0"})  # the same site without the inbox starts


def test_the_inbox_is_linked_and_shows_local_times(app: Any, make: Any) -> None:
    make.community()
    db.session.add(InboxMessage(channel="sms", recipient="+33612345678", title=None, body="Votre RDV", data={}, at=T0))
    db.session.commit()
    client = app.test_client()
    assert 'href="/dev/inbox"' in client.get("/connexion").get_data(as_text=True)
    page = client.get("/dev/inbox")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<style" not in html and " style=" not in html
    assert "23/11/2026 15:00:00 (Europe/Paris)" in html  # T0 is 14:00 UTC


@pytest.mark.browser
def test_the_inbox_page_is_styled_in_chromium_without_breaking_the_csp(
    make: Any,
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    db.session.add(InboxMessage(channel="mail", recipient="gp@cabinet.mssante.fr", title="Compte rendu", body="…", data={}, at=T0))
    db.session.commit()
    driver = browser("inbox", 1000, 800)
    driver.get(server + "/dev/inbox")
    border = driver.execute_script("return getComputedStyle(document.querySelector('.msg.mail')).borderLeftWidth")
    assert border not in ("", "0px"), border
    violations = [e for e in driver.get_log("browser") if "Content Security Policy" in e.get("message", "")]
    assert violations == []
