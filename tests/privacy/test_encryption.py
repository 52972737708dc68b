"""Clinical text encrypted at rest (issue 25, point 7): the synthesis's text and the request's description are Fernet
tokens in the database, read back through the model, across a key rotation, and still plaintext where they leave."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, text

from dispatch import create_app
from dispatch.cli import main
from dispatch.db import db
from dispatch.privacy.tenant import export_community
from dispatch.requests.models import Request, Synthesis
from dispatch.runtime import Ports
from tests.conftest import TEST_SETTINGS
from tests.privacy.conftest import SYNTHESIS, seen_with_synthesis

DESCRIPTION = "Otalgie droite depuis 2 jours, fièvre 38,5"


def _raw(request_id: int) -> tuple[str, str]:
    """Read the stored values with plain SQL, bypassing the model, as a dump of the database would show them."""
    synthesis = db.session.execute(text("SELECT text FROM syntheses WHERE request_id = :r"), {"r": request_id}).scalar_one()
    description = db.session.execute(text("SELECT description FROM requests WHERE id = :r"), {"r": request_id}).scalar_one()
    return synthesis, description


@pytest.fixture
def keyed(database_url: str, clock: Any, ports: Any) -> Any:
    """Return a function reading the test database through an app with the given keys; the value or the exception."""

    def read(request_id: int, key: str, old: str = "") -> tuple[str, str | None]:
        settings = {**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url, "DISPATCH_DATA_KEY": key, "DISPATCH_DATA_KEY_OLD": old}
        other = create_app(settings, clock=clock, ports=Ports(**ports))
        with other.app_context():
            try:
                synthesis = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request_id))
                request = db.session.get(Request, request_id)
                assert synthesis is not None and request is not None
                return synthesis.text, request.description
            finally:
                db.session.remove()
                for engine in db.engines.values():
                    engine.dispose()

    return read


@pytest.fixture
def rotate(app: Any, database_url: str) -> Iterator[Any]:
    """Return a function running `dispatch data rotate-key` with the given keys on the test database."""
    env: dict[str, str | None] = {key: None for key in os.environ if key.startswith("DISPATCH_")}
    env.update({"DISPATCH_ENV": "development", "DISPATCH_DATABASE_URL": database_url, "DISPATCH_SECRET_KEY": "cli-secret"})

    def invoke(key: str, old: str = "") -> str:
        db.session.commit()
        result = CliRunner().invoke(
            main,
            ["data", "rotate-key", "--batch", "1"],
            env={**env, "DISPATCH_DATA_KEY": key, "DISPATCH_DATA_KEY_OLD": old or None},
        )
        db.session.expire_all()
        assert result.exit_code == 0, result.output
        return str(result.output)

    yield invoke


def test_the_database_holds_no_clinical_text_and_the_model_reads_it_back(app: Any, make: Any, world: Any) -> None:
    request_id = seen_with_synthesis(make, world, description=DESCRIPTION)
    db.session.commit()

    stored_synthesis, stored_description = _raw(request_id)
    assert "Otite" not in stored_synthesis and "amoxicilline" not in stored_synthesis
    assert "Otalgie" not in stored_description and "38,5" not in stored_description
    key = Fernet(app.config["DISPATCH_DATA_KEY"])
    assert key.decrypt(stored_synthesis.encode()).decode() == SYNTHESIS  # a Fernet token under DISPATCH_DATA_KEY

    db.session.expire_all()
    synthesis = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request_id))
    assert synthesis is not None and synthesis.text == SYNTHESIS
    assert db.session.get(Request, request_id).description == DESCRIPTION  # type: ignore[union-attr]
    # Selected as a column too (the subject-access answer, the export): the type decrypts there as well.
    assert db.session.scalar(select(Synthesis.text).where(Synthesis.request_id == request_id)) == SYNTHESIS


def test_after_a_rotation_the_old_key_still_reads_and_rotate_key_lets_it_go(
    app: Any, make: Any, world: Any, keyed: Any, rotate: Any
) -> None:
    request_id = seen_with_synthesis(make, world, description=DESCRIPTION)
    db.session.commit()
    old, new = app.config["DISPATCH_DATA_KEY"], Fernet.generate_key().decode()
    before = _raw(request_id)

    assert keyed(request_id, new, old) == (SYNTHESIS, DESCRIPTION)  # written with the old key, read during the rotation
    with pytest.raises(InvalidToken):
        keyed(request_id, new)  # the new key alone cannot read it yet

    said = rotate(new, old)
    assert "1 synthèse(s) et 1 description(s) de demande rechiffrée(s)" in said
    after = _raw(request_id)
    assert after[0] != before[0] and after[1] != before[1] and "Otite" not in after[0]
    assert keyed(request_id, new) == (SYNTHESIS, DESCRIPTION)  # DISPATCH_DATA_KEY_OLD may go
    with pytest.raises(InvalidToken):
        keyed(request_id, old)  # and what the old key could read is gone
    assert "0 synthèse(s) et 0 description(s)" in rotate(new, old)  # nothing left to do: run again, it changes nothing
    assert _raw(request_id) == after


def test_rotate_key_encrypts_plaintext_left_by_an_earlier_release(app: Any, make: Any, world: Any, rotate: Any) -> None:
    """An older release still running during an upgrade (or a migration without a key) wrote plaintext: it reads as it
    is, and rotate-key encrypts it."""
    request_id = seen_with_synthesis(make, world)
    db.session.execute(text("UPDATE syntheses SET text = :t WHERE request_id = :r"), {"t": SYNTHESIS, "r": request_id})
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(select(Synthesis.text).where(Synthesis.request_id == request_id)) == SYNTHESIS

    rotate(app.config["DISPATCH_DATA_KEY"])
    stored = _raw(request_id)[0]
    assert stored != SYNTHESIS and Fernet(app.config["DISPATCH_DATA_KEY"]).decrypt(stored.encode()).decode() == SYNTHESIS


def test_the_community_export_holds_the_plaintext(app: Any, make: Any, world: Any, clock: Any) -> None:
    request_id = seen_with_synthesis(make, world, description=DESCRIPTION)
    db.session.commit()
    archive = zipfile.ZipFile(io.BytesIO(export_community(community_id=world["community"].id, now=clock.now())))
    syntheses = json.loads(archive.read("syntheses.json"))
    requests = json.loads(archive.read("requests.json"))
    assert [row["text"] for row in syntheses] == [SYNTHESIS]
    assert [row["description"] for row in requests if row["id"] == request_id] == [DESCRIPTION]
    assert f"syntheses/compte-rendu-{request_id}.pdf" in archive.namelist()
