"""The busiest reads run without a transaction: each call has its own session, as in production."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from dispatch.audit.models import AccessRecord
from dispatch.db import db


def in_own_context(app: Any, method: str, path: str, headers: dict[str, str]) -> Any:
    """Make a call: the test client gives each its own app context, hence its own session, as in production."""
    return app.test_client().open(path, method=method, headers=headers)


def test_offers_and_request_reads_answer_and_record_the_trail_without_a_transaction(app: Any, make: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    physician = make.member(community, "physician")
    opened = make.open(operator, community)

    offers = in_own_context(app, "GET", "/api/v1/me/offers", make.headers(physician))
    assert offers.status_code == 200, offers.json
    assert [item["id"] for item in offers.json] == [opened["id"]]
    assert offers.json[0]["anonymised"] is True

    read = in_own_context(app, "GET", f"/api/v1/requests/{opened['id']}", make.headers(operator))
    assert read.status_code == 200, read.json
    assert read.json["patient"]["last_name"] == opened["patient"]["last_name"]
    unknown = in_own_context(app, "GET", "/api/v1/requests/999999", make.headers(operator))
    assert unknown.status_code == 404

    count = db.session.scalar(
        select(func.count())
        .select_from(AccessRecord)
        .where(AccessRecord.request_id == opened["id"], AccessRecord.what == "request")
    )
    assert count == 1


def test_a_connection_the_database_dropped_answers_503_once_then_the_service_goes_on(
    app: Any, make: Any, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop a connection")
    community = make.community()
    physician = make.member(community, "physician")
    headers = make.headers(physician)
    assert in_own_context(app, "GET", "/api/v1/me/offers", headers).status_code == 200

    # A restart of PostgreSQL, as the pooled connections see it: every other session ends.
    db.session.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    )
    db.session.commit()

    dropped = in_own_context(app, "GET", "/api/v1/me/offers", headers)
    assert dropped.status_code in (200, 503)  # 200 when the pool checked the connection first
    if dropped.status_code == 503:
        assert dropped.headers["Content-Type"] == "application/problem+json"
        assert dropped.headers["Retry-After"] == "1"
        assert dropped.json["code"] == "unavailable"
    again = in_own_context(app, "GET", "/api/v1/me/offers", headers)
    assert again.status_code == 200, again.json
    db.engine.dispose()  # whatever the pool still holds of the old sessions, before the fixtures clean up
