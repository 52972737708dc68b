"""What the service keeps on disk is its owner's alone: the instance folder 0700, the signing secret, the VAPID key and
the SQLite database with its -wal and -shm files 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from config import settings
from dispatch.cli import upgrade
from dispatch.notify.vapid import KEY_FILE, load_or_create_vapid_key


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A umask that lets everyone read what is created (a default of many systems is 022)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_first_run_keeps_the_instance_folder_and_its_files_to_their_owner(tmp_path: Path, loose_umask: None) -> None:
    instance = tmp_path / "var" / "instance"
    development = {"DISPATCH_ENV": "development"}  # production generates nothing (tests/test_production.py)
    config = settings.load(instance, environ=development)
    assert _mode(instance) == 0o700
    assert _mode(instance / "secret_key") == 0o600 and config["SECRET_KEY"] == (instance / "secret_key").read_text()
    assert settings.load(instance, environ=development)["SECRET_KEY"] == config["SECRET_KEY"]  # kept, not made again

    load_or_create_vapid_key(None, instance)
    assert _mode(instance / KEY_FILE) == 0o600

    database = instance / "dispatch.sqlite3"
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{database}"
    engine = create_engine(config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.begin() as connection:  # WAL (dispatch.db): a write makes the -wal and -shm files
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect():
            files = {path.name: _mode(path) for path in instance.iterdir() if path.name.startswith("dispatch.sqlite3")}
    finally:
        engine.dispose()
    assert files == {"dispatch.sqlite3": 0o600, "dispatch.sqlite3-wal": 0o600, "dispatch.sqlite3-shm": 0o600}


def test_the_vapid_key_folder_is_made_for_its_owner(tmp_path: Path, loose_umask: None) -> None:
    load_or_create_vapid_key(None, tmp_path / "keys")
    assert _mode(tmp_path / "keys") == 0o700 and _mode(tmp_path / "keys" / KEY_FILE) == 0o600


def test_migrating_a_new_sqlite_file_makes_it_and_its_lock_its_owners_alone(tmp_path: Path, loose_umask: None) -> None:
    database = tmp_path / "new.sqlite3"
    upgrade(f"sqlite:///{database}")
    assert _mode(database) == 0o600 and _mode(tmp_path / "new.sqlite3.migrate-lock") == 0o600


def test_an_existing_database_file_keeps_the_mode_it_was_given(tmp_path: Path) -> None:
    """An administrator's choice (a group that backs it up) stands: only a file the service creates is 0600."""
    database = tmp_path / "given.sqlite3"
    database.touch()
    database.chmod(0o640)
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
    finally:
        engine.dispose()
    assert _mode(database) == 0o640
