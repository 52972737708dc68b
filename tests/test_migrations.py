"""The migrations: self-contained (no import of the application), the schema they make is the models', and several
`dispatch db upgrade` at once end with one migration and every process at exit 0."""

from __future__ import annotations

import ast
import contextlib
import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect, make_url, text
from sqlalchemy.exc import OperationalError

import dispatch.models  # noqa: F401 -- registers every table on the metadata
from dispatch.cli import MIGRATIONS, alembic_config
from dispatch.db import db
from tests.system import harness

ROOT = Path(__file__).resolve().parents[1]
MIGRATION_FILES = [MIGRATIONS / "env.py", *sorted((MIGRATIONS / "versions").glob("*.py"))]


def _imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Yield (relative level, module) for every import statement of a module, wherever it stands."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((0, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or ""


@pytest.mark.parametrize("path", MIGRATION_FILES, ids=lambda path: path.name)
def test_no_migration_imports_the_application(path: Path) -> None:
    """A migration runs as written whatever today's code is: it imports neither `dispatch` nor `config`, nor a sibling."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [
        f"{'.' * level}{module}"
        for level, module in _imported_modules(tree)
        if level > 0 or module.split(".")[0] in ("dispatch", "config", "mobile_api")
    ]
    assert found == []


def test_the_migration_template_imports_no_application_module() -> None:
    template = (MIGRATIONS / "script.py.mako").read_text(encoding="utf-8")
    assert "dispatch" not in template


def test_a_fresh_upgrade_runs_without_loading_the_application(tmp_path: Path) -> None:
    """Alembic alone, in a process that never imports `dispatch`: every migration runs, and none loads it."""
    url = f"sqlite:///{tmp_path / 'alone.sqlite3'}"
    script = textwrap.dedent(
        f"""
        import sys
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", {str(MIGRATIONS)!r})
        config.set_main_option("sqlalchemy.url", {url!r})
        command.upgrade(config, "head")
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dispatch", "config", "mobile_api"))
        print("loaded:", loaded)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "loaded: []"
    assert _revision(url) == _head()


def test_the_schema_of_a_fresh_upgrade_is_the_models(database_url: str) -> None:
    """What the migrations make (the test database is migrated from scratch) is what the models declare, names included."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
            made, declared = _names(connection), _declared_names(db.metadata)
            if connection.dialect.name == "sqlite":
                # SQLite adds a column with its foreign key in place, where it keeps no constraint name (0006).
                declared["directory_entries"]["fk"] = {
                    (None if name == "fk_directory_entries_community_id_communities" else name, columns, referred)
                    for name, columns, referred in declared["directory_entries"]["fk"]
                }
            assert made == declared
    finally:
        engine.dispose()


def _names(connection: Any) -> dict[str, dict[str, Any]]:
    """Return the names of each table's columns, primary key, foreign keys, unique and check constraints and indexes."""
    inspector = inspect(connection)
    out: dict[str, dict[str, Any]] = {}
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        uniques = {u["name"] for u in inspector.get_unique_constraints(table)}
        out[table] = {
            "columns": {(c["name"], bool(c["nullable"])) for c in inspector.get_columns(table)},
            "pk": (inspector.get_pk_constraint(table)["name"], tuple(inspector.get_pk_constraint(table)["constrained_columns"])),
            "fk": {(f["name"], tuple(f["constrained_columns"]), f["referred_table"]) for f in inspector.get_foreign_keys(table)},
            "unique": uniques,
            "check": {c["name"] for c in inspector.get_check_constraints(table)},
            # PostgreSQL reports a unique constraint's index too; SQLite its unnamed automatic ones not at all
            "index": {(i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)}
            - {(i["name"], tuple(i["column_names"]), True) for i in inspector.get_indexes(table) if i["name"] in uniques},
        }
    return out


def _declared_names(metadata: MetaData) -> dict[str, dict[str, Any]]:
    """Return the same names as `_names`, from the models' metadata (its naming convention applied)."""
    from sqlalchemy import CheckConstraint, UniqueConstraint

    out: dict[str, dict[str, Any]] = {}
    for table in metadata.sorted_tables:
        constraints = table.constraints
        out[table.name] = {
            "columns": {(c.name, bool(c.nullable)) for c in table.columns},
            "pk": (table.primary_key.name, tuple(c.name for c in table.primary_key.columns)),
            "fk": {(f.name, tuple(f.column_keys), f.referred_table.name) for f in table.foreign_key_constraints},
            "unique": {c.name for c in constraints if isinstance(c, UniqueConstraint)},
            "check": {c.name for c in constraints if isinstance(c, CheckConstraint)},
            "index": {(i.name, tuple(c.name for c in i.columns), bool(i.unique)) for i in table.indexes},
        }
    return out


# Several `dispatch db upgrade` at once on an empty database: real processes, each its own connection.


@contextlib.contextmanager
def _empty_database(kind: str, folder: Path) -> Iterator[str]:
    """Give the URL of an empty database: a new SQLite file, or a new PostgreSQL database beside the test one."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'empty.sqlite3'}"
        return
    test_url = os.environ.get("DISPATCH_TEST_DATABASE_URL", "")
    if not test_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (DISPATCH_TEST_DATABASE_URL=postgresql+psycopg://...)")
    name = f"dispatch_migrate_{secrets.token_hex(4)}"
    admin = create_engine(test_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(test_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with _empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def empty_pg(tmp_path: Path) -> Iterator[str]:
    with _empty_database("postgresql", tmp_path) as url:
        yield url


@pytest.mark.slow
def test_three_concurrent_upgrades_of_an_empty_database_all_end_well(empty_url: str) -> None:
    """One migrates, the two others wait for its lock, find the database at head and exit 0 too."""
    env = harness.service_env(empty_url, DISPATCH_ENV="development")
    argv = [sys.executable, "-m", "dispatch.cli", "db", "upgrade"]
    processes = [
        subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(3)
    ]
    outputs = [process.communicate(timeout=180)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], "\n---\n".join(outputs)
    assert all("Base de données à jour." in output for output in outputs)
    assert _revision(empty_url) == _head()


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def test_on_postgresql_a_second_migration_waits_for_the_lock_and_gives_up_after_its_wait(empty_pg: str) -> None:
    config = alembic_config(empty_pg)
    config.set_main_option("dispatch.lock_wait_s", "0.5")
    holder = create_engine(empty_pg)
    try:
        with holder.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(x'534E50444D494752'::bigint)"))  # as a migrating process
            with pytest.raises(RuntimeError, match=r"Une autre migration de la base tient le verrou depuis plus de 0 s"):
                command.upgrade(config, "head")
            connection.execute(text("SELECT pg_advisory_unlock(x'534E50444D494752'::bigint)"))
        assert _revision(empty_pg) is None
        command.upgrade(config, "head")  # the lock free: it migrates
        assert _revision(empty_pg) == _head()
    finally:
        holder.dispose()


def test_on_postgresql_a_migration_blocked_by_a_long_transaction_fails_after_the_lock_timeout(empty_pg: str) -> None:
    """Rather than queue every request of the running service behind its DDL, waiting forever."""
    config = alembic_config(empty_pg)
    command.upgrade(config, "0014")
    config.set_main_option("dispatch.lock_timeout_ms", "300")
    service = create_engine(empty_pg)
    try:
        with service.connect() as connection:
            connection.execute(text("LOCK TABLE requests IN ACCESS EXCLUSIVE MODE"))  # a long transaction's lock
            with pytest.raises(OperationalError, match="lock timeout"):
                command.upgrade(config, "head")  # 0019 references requests
            connection.rollback()
        assert _revision(empty_pg) == "0014"  # nothing half-done
        command.upgrade(config, "head")
        assert _revision(empty_pg) == _head()
    finally:
        service.dispose()


# 0026: the clinical text already stored is encrypted with the key `dispatch db upgrade` gives.

CLINICAL = "Otite moyenne aiguë droite ; amoxicilline 6 jours."


def _a_request_with_a_synthesis_at_0024(url: str) -> None:
    """Migrate to 0024 and store, as that release did, a request with a description and its synthesis in plaintext."""
    command.upgrade(alembic_config(url), "0024")
    engine = create_engine(url)
    at = {"at": "2026-11-23 14:00:00"}
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO communities (id, name, timezone, exclusive_window_s, response_window_s, created_at) "
                "VALUES (1, 'CPTS', 'Europe/Paris', 600, 3600, :at)"
            ),
            at,
        )
        conn.execute(
            text("INSERT INTO users (id, login, name, role, active, created_at) VALUES (1, 'dr', 'Dr A', 'physician', true, :at)"),
            at,
        )
        conn.execute(text("INSERT INTO physicians (id, user_id, rpps, kind, available) VALUES (1, 1, '10000000001', 'gp', true)"))
        conn.execute(
            text(
                "INSERT INTO requests (id, community_id, state, source, motive, description, opened_by_id, "
                "patient_first_name, patient_last_name, treating_status, plan_exclusive_s, plan_response_s, opened_at, "
                "expires_at, version) VALUES (1, 1, 'seen', 'cot', 'ent', 'Otalgie droite, fièvre 38,5', 1, 'A', 'B', "
                "'none', 600, 3600, :at, :at, 1)"
            ),
            at,
        )
        conn.execute(
            text(
                "INSERT INTO syntheses (id, request_id, physician_id, text, written_at, status) "
                "VALUES (1, 1, 1, :text, :at, 'not_needed')"
            ),
            {**at, "text": CLINICAL},
        )
    engine.dispose()


def _stored(url: str) -> tuple[str, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            synthesis = conn.execute(text("SELECT text FROM syntheses WHERE id = 1")).scalar_one()
            description = conn.execute(text("SELECT description FROM requests WHERE id = 1")).scalar_one()
            return synthesis, description
    finally:
        engine.dispose()


def test_0026_encrypts_the_clinical_text_already_stored_with_the_key_it_is_given(empty_url: str) -> None:
    from cryptography.fernet import Fernet

    from dispatch.cli import upgrade

    _a_request_with_a_synthesis_at_0024(empty_url)
    key = Fernet.generate_key().decode()
    upgrade(empty_url, data_key=key)

    synthesis, description = _stored(empty_url)
    assert "Otite" not in synthesis and "Otalgie" not in description  # a dump of the table holds no clinical text
    assert Fernet(key).decrypt(synthesis.encode()).decode() == CLINICAL
    assert Fernet(key).decrypt(description.encode()).decode() == "Otalgie droite, fièvre 38,5"
    command.downgrade(_keyed(empty_url, key), "0024")  # and back, with the same key
    assert _stored(empty_url) == (CLINICAL, "Otalgie droite, fièvre 38,5")


def test_0026_without_a_key_leaves_the_text_as_it_is_for_rotate_key_to_encrypt(
    empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A development database migrated by bare Alembic, with no key anywhere: the upgrade succeeds, nothing is lost."""
    monkeypatch.delenv("DISPATCH_DATA_KEY", raising=False)
    monkeypatch.delenv("DISPATCH_DATA_KEY_FILE", raising=False)
    _a_request_with_a_synthesis_at_0024(empty_url)
    command.upgrade(alembic_config(empty_url), "head")
    assert _revision(empty_url) == _head()
    assert _stored(empty_url) == (CLINICAL, "Otalgie droite, fièvre 38,5")


def _keyed(url: str, key: str) -> Any:
    config = alembic_config(url)
    config.attributes["dispatch.data_key"] = key
    return config
