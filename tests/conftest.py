"""Fixtures: the app built by its factory, a clock you advance, recording fakes, and builders."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import itertools
import os
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text

from dispatch import create_app
from dispatch.cli import upgrade_fresh
from dispatch.db import db
from dispatch.notify.inbox import Recorder
from dispatch.runtime import Ports
from dispatch.wiring import build_ports

# The suite runs in development (inbox transports, generated keys), whatever the shell says; the child processes it
# starts are given DISPATCH_ENV explicitly (tests/system/harness.py), and production has its own tests.
os.environ["DISPATCH_ENV"] = "development"
T0 = datetime(2026, 11, 23, 14, 0, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"


class FakeClock:
    """A clock that only moves when a test says so."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start
        self.lock = threading.Lock()

    def now(self) -> datetime:
        with self.lock:
            return self.current

    def advance(self, **delta: float) -> datetime:
        with self.lock:
            self.current += timedelta(**delta)
            return self.current

    def set(self, at: datetime) -> None:
        with self.lock:
            self.current = at


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if os.environ.get("DISPATCH_TEST_DATABASE_URL"):
        return os.environ["DISPATCH_TEST_DATABASE_URL"]
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return the test database, migrated once from scratch."""
    url = _database_url(tmp_path_factory)
    upgrade_fresh(url)
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ports() -> dict[str, Recorder]:
    """Recording fakes in place of FCM, Twilio and MSSanté: no test reaches a real provider."""
    return {"push": Recorder(), "sms": Recorder(), "mail": Recorder()}


TEST_SETTINGS = {
    "TESTING": True,
    "DISPATCH_ENV": "development",  # the inbox transports, generated keys; production's refusals have their own tests
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 64,
    "DISPATCH_SECRET_KEY": "test-secret",
    "DISPATCH_PUSH_BACKEND": "inbox",
    "DISPATCH_SMS_BACKEND": "inbox",
    "DISPATCH_MAIL_BACKEND": "inbox",
}


@pytest.fixture
def app(database_url: str, clock: FakeClock, ports: dict[str, Recorder]) -> Iterator[Any]:
    """The application on the test database, with the fake clock and recording ports."""
    settings = {**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url}
    application = create_app(settings, clock=clock, ports=Ports(**ports))
    with serving(application):
        yield application


def real_ports(overrides: dict[str, Any], clock: Any, **fakes: Any) -> Ports:
    """Return the adapters the settings `overrides` select, dated by `clock`, with some replaced by `fakes`."""
    from pathlib import Path

    from config import settings as config_settings

    loaded = config_settings.load(Path(__file__).resolve().parent.parent / "instance", overrides)
    return dataclasses.replace(build_ports(loaded, clock), **fakes)


class OwnContextClient(FlaskClient):
    """Flask's test client, each request in an app context of its own, as in production: its own `g`, its own session.

    The test's context (held by `serving` for the builders and direct reads) stays out of the requests, as the
    flask-sqlalchemy docs advise: a request runs in a fresh `contextvars.Context`, where Flask pushes its app
    context and removes its session at teardown. The test's transaction is committed first (what the test wrote is
    there for the request, and the test holds no lock nor an old snapshot), and its rows expired after (reading
    them again shows what the request wrote).
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            db.session.commit()
        context = contextvars.Context()
        try:
            response = context.run(super().open, *args, **kwargs)
        finally:
            if has_app_context():
                db.session.expire_all()
        if response.is_streamed:  # read where its request ran: a streamed body pushes its contexts again
            response.response = iter(context.run(_read, response.response))
        return response


def _read(body: Any) -> list[bytes]:
    """Read a response's body whole, then close it, as a server does."""
    try:
        return list(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


@contextlib.contextmanager
def serving(application: Any) -> Iterator[Any]:
    """Hold an app context for the test's own code (each test-client request gets its own), then empty the database
    and close its connections."""
    application.test_client_class = OwnContextClient
    with application.app_context():
        try:
            yield application
        finally:
            db.session.remove()
            _truncate()
            for engine in db.engines.values():
                engine.dispose()


def _truncate() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


_seq = itertools.count(1)


class Builders:
    """make_* builders going through the services, and helpers to call the API as someone."""

    def __init__(self, app: Any, client: Any, clock: FakeClock) -> None:
        self.app, self.client, self.clock = app, client, clock
        self.tokens: dict[int, str] = {}

    def community(self, name: str | None = None, **windows: int) -> Any:
        from dispatch.communities import service

        return service.create_community(
            name=name or f"CPTS {next(_seq)}",
            timezone="Europe/Paris",
            exclusive_window_s=windows.get("exclusive", 3600),
            response_window_s=windows.get("response", 7200),
            now=self.clock.now(),
        )

    def admin(self) -> Any:
        from dispatch.auth.service import create_user

        user = create_user(
            login=f"admin{next(_seq)}",
            password=PASSWORD,
            name="Admin",
            role="admin",
            now=self.clock.now(),
            ph=self.app.extensions["dispatch"].hasher,
        )
        db.session.commit()
        return user

    def member(self, community: Any, role: str, **fields: Any) -> Any:
        """Create a member; for physicians return the Physician, else the User."""
        from dispatch.communities import membership

        n = next(_seq)
        defaults: dict[str, Any] = {"login": f"{role}{n}", "password": PASSWORD, "name": f"{role.title()} {n}"}
        if role == "physician":
            defaults.update(
                rpps=luhn_rpps(n),
                kind="titulaire",
                name=f"Dr Médecin {n}",
                mssante=f"medecin{n}@medecin.mssante.fr",
                address=f"{n} rue de la Paix, Champigny",
                phone=f"+3361234{n:04d}",
            )
        defaults.update(fields)
        user, physician = membership.add_member(
            community=community, role=role, now=self.clock.now(), ph=self.app.extensions["dispatch"].hasher, **defaults
        )
        return physician if physician is not None else user

    def device(self, physician: Any, token: str | None = None) -> Any:
        from dispatch.communities import service

        device, _ = service.register_device(
            physician=physician, platform="android", token=token or f"token-{physician.id}-{next(_seq)}", now=self.clock.now()
        )
        return device

    def token(self, who: Any) -> str:
        """Return a bearer token for a User or a Physician."""
        user = getattr(who, "user", who)
        if user.id not in self.tokens:
            response = self.client.post("/api/v1/auth/token", json={"login": user.login, "password": PASSWORD})
            assert response.status_code == 200, response.json
            self.tokens[user.id] = response.json["access_token"]
        return self.tokens[user.id]

    def headers(self, who: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(who)}"}

    def call(self, method: str, path: str, who: Any = None, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if who is not None:
            headers.update(self.headers(who))
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def request_body(self, community: Any, treating: Any = None, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "community_id": community.id,
            "source": "cot",
            "motive": "ent",
            "description": "Otalgie droite depuis 2 jours, fièvre 38,5",
            "patient": {
                "first_name": "Lucie",
                "last_name": "Martin",
                "birth_date": "1988-04-02",
                "sex": "F",
                "phone": "+33612345678",
                "postcode": "94500",
                "city": "Champigny-sur-Marne",
            },
            "treating_physician": {"status": "none"},
        }
        if treating is not None:
            body["treating_physician"] = {"status": "declared", "rpps": treating.rpps, "name": treating.user.name}
        body.update(changes)
        return body

    def open(self, operator: Any, community: Any, treating: Any = None, **changes: Any) -> dict[str, Any]:
        response = self.call("POST", "/requests", operator, json=self.request_body(community, treating, **changes))
        assert response.status_code == 201, response.json
        return response.json  # type: ignore[no-any-return]

    def accept(self, physician: Any, request_id: int, minutes: int = 0) -> Any:
        at = (self.clock.now() + timedelta(minutes=minutes)).isoformat()
        return self.call("POST", f"/requests/{request_id}/accept", physician, json={"appointment_at": at})

    def tick(self) -> int:
        from dispatch.requests.tick import advance_due

        return advance_due(now=self.clock.now())

    def deliver(self, **ports: Any) -> int:
        """Run the outbox sender once, as the worker would (with some ports replaced, if given)."""
        import dataclasses

        from dispatch.notify.service import deliver_pending
        from dispatch.wiring import senders

        return deliver_pending(now=self.clock.now(), senders=dataclasses.replace(senders(self.app), **ports))


def luhn_rpps(n: int) -> str:
    """Return a valid 11-digit RPPS number built from `n`."""
    from dispatch.communities.service import rpps_valid

    prefix = f"1{n:09d}"
    for digit in "0123456789":
        if rpps_valid(prefix + digit):
            return prefix + digit
    raise AssertionError("unreachable")


@pytest.fixture
def make(app: Any, client: Any, clock: FakeClock) -> Builders:
    return Builders(app, client, clock)
