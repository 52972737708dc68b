"""The practice's phone of a physician, given to the patient in the appointment's SMS (issue 22, item 14)

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("physicians") as batch_op:
        batch_op.add_column(sa.Column("practice_phone", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("physicians") as batch_op:
        batch_op.drop_column("practice_phone")
