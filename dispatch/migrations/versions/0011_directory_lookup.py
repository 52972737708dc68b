"""Treating GPs' MSSanté addresses looked up in the national directory, cached per community (issue 15)

directory_entries gain where the address came from (typed by an operator, or the Annuaire Santé and the kind of
mailbox it is) and the state of the directory lookup; the addresses already kept were all typed by operators.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_entries = sa.table("directory_entries", sa.column("mssante", sa.String), sa.column("mssante_source", sa.String))


def upgrade() -> None:
    # Plain ADD COLUMN (nullable, no default), no batch: requests reference directory_entries (see 0006).
    op.add_column("directory_entries", sa.Column("mssante_source", sa.String(length=10), nullable=True))
    op.add_column("directory_entries", sa.Column("mssante_type", sa.String(length=3), nullable=True))
    op.add_column("directory_entries", sa.Column("lookup_status", sa.String(length=10), nullable=True))
    op.add_column("directory_entries", sa.Column("looked_up_at", sa.DateTime(), nullable=True))
    op.execute(sa.update(_entries).where(_entries.c.mssante.is_not(None)).values(mssante_source="operator"))


def downgrade() -> None:
    for name in ("looked_up_at", "lookup_status", "mssante_type", "mssante_source"):
        op.drop_column("directory_entries", name)
