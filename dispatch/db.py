"""The database extension, the declarative base and the UTC datetime column type."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from flask import current_app, has_request_context
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Engine, MetaData, event, exc
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator

MAX_ID = 2**31 - 1  # the largest id an INTEGER key holds (PostgreSQL's int4)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes, stored naive in UTC on every engine."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    Model = Base  # what the models derive from, as the type checker sees it
else:
    Model = db.Model  # Flask-SQLAlchemy's subclass of Base (its query property, table names)


@event.listens_for(Engine, "do_connect")
def _private_sqlite_file(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> None:
    """Create a new SQLite database file readable by its owner only: SQLite gives its -wal and -shm files that mode."""
    if dialect.name != "sqlite" or not cargs or cparams.get("uri"):
        return
    path = str(cargs[0])
    if path in ("", ":memory:") or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError):  # exists; or no folder, which SQLite reports itself
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Let SQLite readers and one writer work at once, and wait rather than fail on a lock."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@contextlib.contextmanager
def kept_after_commit() -> Iterator[None]:
    """Leave the rows the session holds loaded when it commits (they stand as written), for a while.

    A commit otherwise expires every row, and the next read of each costs a SELECT.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = True


PING_AFTER_IDLE_S = 1.0  # a connection unused longer than this is checked before use


@event.listens_for(Pool, "checkin")
def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Check a connection that sat idle (the server may have dropped it) before a request uses it.

    A busy process reuses its connections many times a second: pinging each checkout, as pool_pre_ping
    does, would cost a round trip per HTTP call. A failed ping makes the pool retry with a new connection.
    """
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        if type(dbapi_connection).__module__.startswith("psycopg"):
            dbapi_connection.rollback()  # end the ping's transaction: the caller begins its own
    except Exception as error:  # the driver's own error types differ: any failure means a dead connection
        raise exc.DisconnectionError(f"connection idle for a while failed its ping: {error}") from error


# Web requests on PostgreSQL: no statement may run longer than this (DISPATCH_STATEMENT_TIMEOUT_MS; 0: no limit); one
# over it is cancelled and the call answers 503 with Retry-After (dispatch.errors.statement_timed_out). The worker, the
# CLI and migrations run outside any web request and keep PostgreSQL's own setting (none).
WEB_STATEMENT_TIMEOUT_MS = 5000


def _wanted_statement_timeout() -> int:
    if not has_request_context():
        return 0
    return int(current_app.config.get("DISPATCH_STATEMENT_TIMEOUT_MS", WEB_STATEMENT_TIMEOUT_MS) or 0)


@event.listens_for(Pool, "checkout")
def _statement_timeout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Give a PostgreSQL connection the statement_timeout of whoever checks it out: a web request, or anything else.

    Set once per connection, and again only when it passes between a web request and the worker (`dispatch serve`
    runs both in one process): a gunicorn web process pays it once per connection, not per call.
    """
    if not type(dbapi_connection).__module__.startswith("psycopg"):
        return
    wanted = _wanted_statement_timeout()
    if record.info.get("statement_timeout", 0) == wanted:
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"SET statement_timeout = {wanted:d}")
    finally:
        cursor.close()
    dbapi_connection.commit()  # a SET inside a transaction rolled back would be undone: keep it for the session
    record.info["statement_timeout"] = wanted
