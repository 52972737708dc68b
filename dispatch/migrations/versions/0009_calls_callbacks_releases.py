"""Calls triaged without a request, call-backs, relaunches and hand-backs of requests (issue 16)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("motive", sa.String(length=20), nullable=True),
        sa.UniqueConstraint("operator_id", "idempotency_key", name=op.f("uq_calls_operator_id")),
    )
    op.create_index("ix_calls_community_received", "calls", ["community_id", "received_at"])
    with op.batch_alter_table("requests") as batch_op:
        batch_op.add_column(sa.Column("releases", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("relaunch_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("callback_result", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("callback_note", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("callback_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("callback_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_requests_relaunch_of_id_requests", "requests", ["relaunch_of_id"], ["id"])
        batch_op.create_foreign_key("fk_requests_callback_by_id_users", "users", ["callback_by_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch_op:
        batch_op.drop_constraint("fk_requests_callback_by_id_users", type_="foreignkey")
        batch_op.drop_constraint("fk_requests_relaunch_of_id_requests", type_="foreignkey")
        for name in ("callback_by_id", "callback_at", "callback_note", "callback_result", "relaunch_of_id", "releases"):
            batch_op.drop_column(name)
    op.drop_index("ix_calls_community_received", table_name="calls")
    op.drop_table("calls")
