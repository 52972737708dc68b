"""Logs are JSON lines with a request id, and never hold a token, a password or a patient's identity."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from dispatch import logs
from tests.conftest import PASSWORD, Builders
from tests.security.http_client import serving

IDENTITY = ("Lucie", "Martin", "1988-04-02", "02/04/1988", "+33612345678", "0612345678", "612345678")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Capture every log line at DEBUG (SQLAlchemy statements included) through the service's own handler."""
    stream = io.StringIO()
    handler = logs.handler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    logs.set_levels("DEBUG")
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        logs.set_levels("INFO")


def test_a_whole_lifecycle_over_http_logs_no_identity_no_token(app: Any, clock: Any, captured: io.StringIO) -> None:
    with serving(app) as http:
        make = Builders(app, http, clock)
        community = make.community()
        operator = make.member(community, "operator")
        coordinator = make.member(community, "coordinator")
        gp = make.member(community, "physician")
        other = make.member(community, "physician")
        for physician in (gp, other):
            make.device(physician)
        assert make.call("POST", "/auth/token", json={"login": operator.login, "password": "wrong-" + PASSWORD}).status_code == 401
        opened = make.open(operator, community, treating=gp)
        make.deliver()
        assert make.call("POST", f"/requests/{opened['id']}/refuse", gp, json={"reason": "En congés"}).status_code == 200
        make.deliver()
        assert make.accept(other, opened["id"]).status_code == 200
        make.deliver()
        assert (
            make.call(
                "POST", f"/requests/{opened['id']}/outcome", other, json={"outcome": "seen", "synthesis": "Otite, amoxicilline."}
            ).status_code
            == 200
        )
        make.deliver()
        for path in (f"/requests/{opened['id']}", "/requests", f"/requests/{opened['id']}/events"):
            assert make.call("GET", path, operator, headers={"X-Request-Id": "trace-42"}).status_code == 200
        assert make.call("GET", f"/requests/{opened['id']}/access", coordinator).status_code == 200
        assert make.call("DELETE", "/auth/token", operator).status_code == 204

    lines = [line for line in captured.getvalue().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"werkzeug", "dispatch.access"} <= {e["logger"] for e in entries}
    assert any(e["logger"].startswith("sqlalchemy.engine") for e in entries)  # DEBUG really was on
    access = [e for e in entries if e["logger"] == "dispatch.access"]
    assert all(len(e["request_id"]) >= 16 or e["request_id"] == "trace-42" for e in access)
    assert sum(e["request_id"] == "trace-42" for e in access) == 3
    text = captured.getvalue()
    for secret in (*IDENTITY, PASSWORD, *make.tokens.values()):
        assert secret not in text, secret


def test_request_id_is_echoed_or_made(client: Any) -> None:
    given = client.get("/api/v1/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123"
    made = client.get("/api/v1/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert len(made.headers["X-Request-Id"]) == 32 and " " not in made.headers["X-Request-Id"]


def test_redaction_masks_what_a_careless_caller_logs() -> None:
    record = logging.LogRecord(
        "dispatch",
        logging.INFO,
        __file__,
        1,
        "auth %s body %s",
        ("Authorization: Bearer abc.DEF-123", '{"login": "x", "password": "hunter22"}'),
        None,
    )
    line = logs.JsonFormatter().format(record)
    assert "abc.DEF-123" not in line and "hunter22" not in line
    assert json.loads(line)["level"] == "info"


@pytest.mark.parametrize("path", ["/reinitialisation/", "/definir-mot-de-passe/"])
def test_a_link_secret_in_a_path_is_masked_in_the_server_log(app: Any, captured: io.StringIO, path: str) -> None:
    secret = secrets.token_urlsafe(32)
    with serving(app) as http:
        http.get(path + secret)
        http.post(path + secret + "?x=1")
    text = captured.getvalue()
    assert path + "[masqué]" in text  # the request was logged, its secret masked
    assert secret not in text
