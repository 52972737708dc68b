"""Invited members have no password hash; a daily SMS budget per community, counted by the sender

users.password_hash becomes nullable: an invited member has none until they choose their password (a roster import
computes no argon2 hash). communities.sms_daily_budget (500 by default, set by the admin); sms_budget_days counts,
per community and local day, the SMS the sender let go, and when the budget ran out (the admin is told once).

Revision ID: 0017
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op


revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255), nullable=True)
    with op.batch_alter_table("communities") as batch_op:
        batch_op.add_column(sa.Column("sms_daily_budget", sa.Integer(), server_default="500", nullable=False))
    op.create_table(
        "sms_budget_days",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("spent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"], name=op.f("fk_sms_budget_days_community_id_communities")),
        sa.PrimaryKeyConstraint("community_id", "day", name=op.f("pk_sms_budget_days")),
    )


def downgrade() -> None:
    op.drop_table("sms_budget_days")
    with op.batch_alter_table("communities") as batch_op:
        batch_op.drop_column("sms_daily_budget")
    # An invited member without a hash gets one nobody can match (argon2 never verifies "!").
    op.execute("UPDATE users SET password_hash = '!' WHERE password_hash IS NULL")
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255), nullable=False)
