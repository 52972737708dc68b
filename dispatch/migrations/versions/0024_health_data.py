"""Keeping and erasing health data per community (issue 25): retention_days, trail_days, requests.erased_at,
the reference of a data-subject request in the access trail, and the indexes the daily erasure walks.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch_op:
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=False, server_default="365"))
        batch_op.add_column(sa.Column("trail_days", sa.Integer(), nullable=False, server_default="1095"))
    with op.batch_alter_table("requests") as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
    op.create_index("ix_requests_community_closed", "requests", ["community_id", "closed_at"])
    with op.batch_alter_table("access_records") as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=100), nullable=True))
    op.create_index("ix_access_records_at", "access_records", ["at"])
    op.create_index("ix_outbox_created_at", "outbox", ["created_at"])
    op.create_index("ix_events_at", "events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_events_at", table_name="events")
    op.drop_index("ix_outbox_created_at", table_name="outbox")
    op.drop_index("ix_access_records_at", table_name="access_records")
    with op.batch_alter_table("access_records") as batch_op:
        batch_op.drop_column("reference")
    op.drop_index("ix_requests_community_closed", table_name="requests")
    with op.batch_alter_table("requests") as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("communities") as batch_op:
        batch_op.drop_column("trail_days")
        batch_op.drop_column("retention_days")
