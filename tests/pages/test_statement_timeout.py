"""A statement over the web requests' statement_timeout (PostgreSQL) answers 503 with Retry-After, never 500; the
worker, the CLI and migrations keep no limit (issue 24, point 7)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from dispatch.db import db
from tests.pages.test_console_browser import shift

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def postgresql(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (DISPATCH_TEST_DATABASE_URL=postgresql+psycopg://...)")
    return database_url


def test_a_statement_over_the_timeout_answers_503_on_a_page_and_in_the_api(
    app: Any, make: Any, as_user: Any, postgresql: str
) -> None:
    w = shift(make)
    opened = make.open(w["nadia"], w["community"])
    console = as_user(w["yves"])
    assert console.get("/console").status_code == 200
    app.config["DISPATCH_STATEMENT_TIMEOUT_MS"] = 300
    blocker = create_engine(postgresql)
    try:
        with blocker.connect() as connection:  # a long transaction holds the requests: every read of them waits
            connection.execute(text("LOCK TABLE requests IN ACCESS EXCLUSIVE MODE"))
            page = console.get("/console")
            assert page.status_code == 503 and page.headers["Retry-After"] == "5"
            assert "réessayez dans quelques secondes" in page.get_data(as_text=True)
            api = make.call("GET", f"/requests/{opened['id']}", w["nadia"])
            assert api.status_code == 503 and api.headers["Retry-After"] == "5"
            assert api.json["code"] == "busy" and api.mimetype == "application/problem+json"
            connection.rollback()
    finally:
        blocker.dispose()
    assert console.get("/console").status_code == 200  # the same pooled connections serve again


def test_web_requests_have_the_timeout_and_nothing_else_has(app: Any, postgresql: str) -> None:
    show = text("SHOW statement_timeout")
    with app.test_request_context("/"):
        assert db.session.execute(show).scalar() == "5s"
        db.session.rollback()
    db.session.remove()
    with app.app_context():  # the worker's tick and sender, the CLI: no request
        assert db.session.execute(show).scalar() == "0"
        db.session.rollback()
