"""access trail: one row per read of a patient's identity

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("what", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_access_records_request_id_requests")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_access_records_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_records")),
    )
    op.create_index("ix_access_records_request_id_id", "access_records", ["request_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_access_records_request_id_id", table_name="access_records")
    op.drop_table("access_records")
