"""Floating slots (issue 26, point 4): a member's capacity ("I can take N more until HH:MM")

physicians.capacity (how many requests the member will still accept, 1 to 20), capacity_from (when it was declared:
the acceptances counted against it are those since) and capacity_until (when it lapses, within 24 hours of its
declaration). All three NULL: no capacity. On SQLite the table is rebuilt (batch mode).

Revision ID: 0029
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

CAPACITY_CHECK = "capacity IS NULL OR (capacity >= 1 AND capacity <= 20)"


def upgrade() -> None:
    with op.batch_alter_table("physicians") as batch_op:
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("capacity_from", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("capacity_until", sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(op.f("ck_physicians_capacity"), CAPACITY_CHECK)


def downgrade() -> None:
    with op.batch_alter_table("physicians") as batch_op:
        batch_op.drop_constraint(op.f("ck_physicians_capacity"), type_="check")
        for column in ("capacity_until", "capacity_from", "capacity"):
            batch_op.drop_column(column)
