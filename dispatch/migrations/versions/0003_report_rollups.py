"""report rollups: per-physician daily offer counts, and the request columns the report reads

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from dispatch.requests.rollup_backfill import backfill  # the very SQL the benchmark's loader runs

    op.create_table(
        "physician_day_stats",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("physician_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"],
                                name=op.f("fk_physician_day_stats_community_id_communities")),
        sa.ForeignKeyConstraint(["physician_id"], ["physicians.id"],
                                name=op.f("fk_physician_day_stats_physician_id_physicians")),
        sa.PrimaryKeyConstraint("community_id", "physician_id", "day", name=op.f("pk_physician_day_stats")),
    )
    op.add_column("requests", sa.Column("accept_delay_us", sa.BigInteger(), nullable=True))
    op.add_column("requests", sa.Column("synthesis_status", sa.String(length=20), nullable=True))
    backfill(op.get_bind())
    op.create_index("ix_requests_community_delay", "requests", ["community_id", "accept_delay_us", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_requests_community_delay", table_name="requests")
    with op.batch_alter_table("requests") as batch_op:
        batch_op.drop_column("synthesis_status")
        batch_op.drop_column("accept_delay_us")
    op.drop_table("physician_day_stats")
