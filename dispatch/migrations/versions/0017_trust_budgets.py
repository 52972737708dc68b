"""Invited members have no password hash; a daily SMS budget per community, counted by the sender

users.password_hash becomes nullable: an invited member has none until they choose their password (a roster import
computes no argon2 hash). communities.sms_daily_budget (500 by default, set by the admin); sms_budget_days counts,
per community and local day, the SMS the sender let go, and when the budget ran out (the admin is told once).

Revision ID: 0017
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from dispatch.db import UTCDateTime

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255), nullable=True)


def downgrade() -> None:
    # An invited member without a hash gets one nobody can match (argon2 never verifies "!").
    op.execute("UPDATE users SET password_hash = '!' WHERE password_hash IS NULL")
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255), nullable=False)
