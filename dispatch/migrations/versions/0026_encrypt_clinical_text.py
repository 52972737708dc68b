"""Clinical text encrypted at rest (issue 25, point 7): the syntheses' text and the requests' descriptions already
stored become Fernet tokens under DISPATCH_DATA_KEY. No schema change.

The key comes from `dispatch db upgrade` (the settings', generated in development), else from the environment
(DISPATCH_DATA_KEY or DISPATCH_DATA_KEY_FILE). Without one, nothing is encrypted and a warning says so: the service reads
plaintext as it is, and `dispatch data rotate-key`, run once a key is set, encrypts it. The code below is a copy of
what the application does (dispatch.encryption), so that this migration runs whatever today's code is.

Revision ID: 0026
Revises: 0025
"""

import logging
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op
from cryptography.fernet import Fernet, MultiFernet

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

SEALED = (("syntheses", "text"), ("requests", "description"))
TOKEN_PREFIX = "gAAAAA"  # every Fernet token starts so (version byte 0x80, a timestamp's zero high bytes)
BATCH = 500
log = logging.getLogger("alembic.runtime.migration")


def _key(name: str) -> str:
    given = str(context.config.attributes.get("dispatch.data_key") or "") if name == "DISPATCH_DATA_KEY" else ""
    if given.strip():
        return given.strip()
    if os.environ.get(name, "").strip():
        return os.environ[name].strip()
    path = os.environ.get(f"{name}_FILE", "").strip()
    return Path(path).read_text(encoding="utf-8").strip() if path else ""


def _rewrite(change, wanted) -> int:  # type: ignore[no-untyped-def]
    """Apply `change` to every value of the encrypted columns that `wanted` selects, in batches by id."""
    bind = op.get_bind()
    total = 0
    for table_name, column_name in SEALED:
        rows_of = sa.table(table_name, sa.column("id", sa.Integer()), sa.column(column_name, sa.Text()))
        stored = rows_of.c[column_name]
        last = 0
        while True:
            query = sa.select(rows_of.c.id, stored).where(rows_of.c.id > last, stored.is_not(None), stored != "", wanted(stored))
            rows = bind.execute(query.order_by(rows_of.c.id).limit(BATCH)).all()
            if not rows:
                break
            for row_id, value in rows:
                bind.execute(sa.update(rows_of).where(rows_of.c.id == row_id).values({column_name: change(value)}))
            total += len(rows)
            last = rows[-1][0]
    return total


def upgrade() -> None:
    key = _key("DISPATCH_DATA_KEY")
    if not key:
        log.warning(
            "DISPATCH_DATA_KEY absente : les textes cliniques déjà en base restent en clair ; une fois la clé donnée, "
            "« dispatch data rotate-key » les chiffrera."
        )
        return
    fernet = Fernet(key)
    count = _rewrite(
        lambda value: fernet.encrypt(value.encode("utf-8")).decode("ascii"),
        lambda stored: sa.not_(stored.startswith(TOKEN_PREFIX)),
    )
    log.info("Textes cliniques chiffrés : %d", count)


def downgrade() -> None:
    keys = [key for key in (_key("DISPATCH_DATA_KEY"), _key("DISPATCH_DATA_KEY_OLD")) if key]
    if not keys:
        raise RuntimeError("DISPATCH_DATA_KEY absente : impossible de remettre en clair les textes cliniques chiffrés.")
    ring = MultiFernet([Fernet(key) for key in keys])
    _rewrite(lambda value: ring.decrypt(value.encode("ascii")).decode("utf-8"), lambda stored: stored.startswith(TOKEN_PREFIX))
