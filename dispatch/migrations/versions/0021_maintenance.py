"""Maintenance: the table maintenance (at most one row: the maintenance in progress), and the outbox's statuses kept
by a CHECK constraint, `expired` among them (issue 24, point 5)

The values are written out here (not imported), so that this migration keeps meaning what it meant when written.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "dead_token", "fallback", "obsolete", "over_budget", "expired")


def upgrade() -> None:
    op.create_table(
        "maintenance",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("started_by", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_maintenance_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance")),
    )
    listed = ", ".join(f"'{status}'" for status in OUTBOX_STATUSES)
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.create_check_constraint(op.f("ck_outbox_status"), f"status IN ({listed})")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_status"), type_="check")
    op.drop_table("maintenance")
