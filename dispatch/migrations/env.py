"""Alembic environment: migrates the database named in the Alembic configuration, one process at a time.

Self-contained: neither this file nor a migration imports the application (`dispatch.*`), so that a migration runs
the same whatever today's code is. Several processes may run `dispatch db upgrade` at once (replicas starting, a
one-shot job retried): one migrates under a lock (PostgreSQL: an advisory lock; SQLite: a lock file beside the
database), the others wait for it, then find the database at head and have nothing to do.

Autogenerate compares the database with the models: `target_metadata` is the application's metadata only then, loaded
on demand (`alembic -x models=1 revision --autogenerate -m "..."`, with `-c` pointing at a configuration whose
`script_location` is this folder and whose `sqlalchemy.url` is a database at head). Review what it writes: the
migration must not import `dispatch`, and a UTC column is `sa.DateTime()`.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import time
from collections.abc import Iterator
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection, MetaData, create_engine, make_url, pool
from sqlalchemy.types import TypeDecorator

config = context.config

# One fixed key for every installation's migrations ("SNPDMIGR" in ASCII); the worker's leadership takes "SNPD".
MIGRATION_LOCK_KEY = 0x534E50444D494752
# How long a second process waits for the one migrating before giving up (seconds).
LOCK_WAIT_S = float(config.get_main_option("dispatch.lock_wait_s") or 600)
# How long a migration's statement waits for a table lock (a long transaction of the running service) before it fails,
# rather than queueing every request of the service behind it: run it again once that transaction is gone.
LOCK_TIMEOUT_MS = int(config.get_main_option("dispatch.lock_timeout_ms") or 15_000)


# The names of constraints and indexes a migration leaves unnamed, as the models' metadata gives them (dispatch.db):
# Alembic's operations take them from the target metadata. Frozen here: the migrations were written against it.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _target_metadata() -> MetaData:
    """Return the models' metadata when autogenerate asked for it (-x models=1), else an empty one with their naming."""
    if context.get_x_argument(as_dictionary=True).get("models") != "1":
        return MetaData(naming_convention=NAMING)
    importlib.import_module("dispatch.models")  # registers every table on the metadata
    metadata: MetaData = importlib.import_module("dispatch.db").db.metadata
    return metadata


target_metadata = _target_metadata()


def _render_item(kind: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    """Write an application column type (UTCDateTime) as the plain type it stores, so that no migration imports it."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{type(obj.impl_instance).__name__}()"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


@contextlib.contextmanager
def _postgresql_lock(connection: Connection) -> Iterator[None]:
    """Hold the migrations' advisory lock on this connection; wait at most LOCK_WAIT_S for it."""
    connection.exec_driver_sql(f"SET lock_timeout = {int(LOCK_WAIT_S * 1000)}")
    try:
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
    except Exception as error:
        raise RuntimeError(
            f"Une autre migration de la base tient le verrou depuis plus de {LOCK_WAIT_S:.0f} s : abandon. "
            "Relancez « dispatch db upgrade » une fois qu'elle est finie."
        ) from error
    connection.exec_driver_sql(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()  # a failed migration leaves its transaction aborted: end it, then unlock
        connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
        connection.commit()


@contextlib.contextmanager
def _sqlite_lock(database: str | None) -> Iterator[None]:
    """Hold an exclusive lock on a file beside the SQLite database; wait at most LOCK_WAIT_S for it."""
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    _private_file(database)  # SQLite gives its -wal and -shm files the database file's mode
    descriptor = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"Une autre migration de la base {database} tient le verrou depuis plus de {LOCK_WAIT_S:.0f} s : "
                        "abandon. Relancez « dispatch db upgrade » une fois qu'elle est finie."
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _private_file(path: str) -> None:
    """Create the database file readable by its owner only, unless it exists."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata, render_as_batch=True, compare_type=True, render_item=_render_item
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = make_url(config.get_main_option("sqlalchemy.url") or "")
    if url.get_backend_name() == "sqlite":
        with _sqlite_lock(url.database):
            _run_sqlite(url)
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                with _postgresql_lock(connection):
                    _migrate(connection)
            else:
                _migrate(connection)
    finally:
        engine.dispose()


def _run_sqlite(url: Any) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            # The running service may be writing: wait for its transaction rather than fail at once.
            connection.exec_driver_sql(f"PRAGMA busy_timeout={LOCK_TIMEOUT_MS}")
            # SQLite rebuilds a table to change its constraints (batch mode), and dropping the old copy of a table that
            # others reference fails with foreign keys on: off for the migration (outside its transaction, where the
            # pragma takes effect), and every reference checked once it is done.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
            _migrate(connection)
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"la migration laisse des références cassées : {broken[:5]}")
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
