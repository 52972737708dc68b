"""Delivery status of secure messages read back over IMAP (issue 15)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from dispatch.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The synthesis's status gains delivered, read and refused (String(20) already holds them); it keeps the
    # Message-ID it went with, when its status last moved, and why it was refused or failed.
    with op.batch_alter_table("syntheses") as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=250), nullable=True))
        batch_op.add_column(sa.Column("status_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("status_reason", sa.String(length=500), nullable=True))
        batch_op.create_index("ix_syntheses_message_id", ["message_id"])


def downgrade() -> None:
    from dispatch.requests.rollup_backfill import backfill_requests  # the report's rollup counts requests by that status

    # Statuses only the reports set fall back to "sent", what they were before.
    op.execute("UPDATE syntheses SET status = 'sent' WHERE status IN ('delivered', 'read', 'refused')")
    op.execute("UPDATE requests SET synthesis_status = 'sent' WHERE synthesis_status IN ('delivered', 'read', 'refused')")
    with op.batch_alter_table("syntheses") as batch_op:
        batch_op.drop_index("ix_syntheses_message_id")
        for name in ("status_reason", "status_at", "message_id"):
            batch_op.drop_column(name)
    backfill_requests(op.get_bind())
