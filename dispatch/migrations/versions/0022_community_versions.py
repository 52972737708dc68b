"""The live pages' change counter: community_versions, one row per community (issue 24, point 7)

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No backfill: a community without a row reads as version 0, and its first change inserts the row.
    op.create_table(
        "community_versions",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_community_versions_community_id_communities")
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_community_versions")),
    )


def downgrade() -> None:
    op.drop_table("community_versions")
