"""communities.region: the numbering region of the community's national-format phone numbers (issue 15)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=2), nullable=False, server_default="FR"))


def downgrade() -> None:
    with op.batch_alter_table("communities") as batch_op:
        batch_op.drop_column("region")
