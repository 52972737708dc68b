"""report rollups: requests per local day and group of the fields the report counts them by

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from dispatch.requests.rollup_backfill import backfill_requests  # the very SQL the benchmark's loader runs

    op.create_table(
        "request_day_stats",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("motive", sa.String(length=20), nullable=False),
        sa.Column("treating_status", sa.String(length=10), nullable=False),
        sa.Column("synthesis_status", sa.String(length=20), nullable=False),
        sa.Column("accepted_by_treating", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"],
                                name=op.f("fk_request_day_stats_community_id_communities")),
        sa.PrimaryKeyConstraint("community_id", "day", "state", "source", "motive", "treating_status",
                                "synthesis_status", "accepted_by_treating", name=op.f("pk_request_day_stats")),
    )
    backfill_requests(op.get_bind())


def downgrade() -> None:
    op.drop_table("request_day_stats")
