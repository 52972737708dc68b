"""Rotate the key of the clinical text encrypted at rest: re-encrypt, in batches, every value the current key did not
write, so that DISPATCH_DATA_KEY_OLD can be removed."""

from __future__ import annotations

from cryptography.fernet import Fernet
from flask import current_app
from sqlalchemy import column, select, table, update

from dispatch.db import db
from dispatch.encryption import EXTENSION, resealed

# The encrypted columns, as (table, column): read and written here as plain text, bypassing their type.
SEALED = (("syntheses", "text"), ("requests", "description"), ("requests", "observations"))


def rotate_data_key(*, batch: int = 500) -> dict[str, int]:
    """Re-encrypt with DISPATCH_DATA_KEY what an older key wrote (or plaintext); return the rows rewritten per table."""
    ring = current_app.extensions[EXTENSION]
    current = Fernet(current_app.config["DISPATCH_DATA_KEY"])
    rewritten: dict[str, int] = {}
    for table_name, column_name in SEALED:
        rows_of = table(table_name, column("id"), column(column_name))
        stored_col = rows_of.c[column_name]
        last, count = 0, 0
        while True:
            rows = db.session.execute(
                select(rows_of.c.id, stored_col)
                .where(rows_of.c.id > last, stored_col.is_not(None), stored_col != "")
                .order_by(rows_of.c.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            for row_id, stored in rows:
                new = resealed(stored, ring, current)
                if new is not None:  # unless written meanwhile (then by the current key): compare and swap
                    changed = db.session.execute(
                        update(rows_of).where(rows_of.c.id == row_id, stored_col == stored).values({column_name: new})
                    )
                    count += int(changed.rowcount)  # type: ignore[attr-defined]
            db.session.commit()  # one transaction per batch: rows are locked briefly, a stop loses nothing
            last = rows[-1][0]
        rewritten[table_name] = rewritten.get(table_name, 0) + count  # a table may have several sealed columns
    return rewritten
