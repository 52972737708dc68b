"""Members and accounts: invitations, edits, deactivation (issue 17)

users.password_set_at: when the holder last had a password they know (null: invited, never chose one);
password_resets.purpose: "reset" (24 h) or "invitation" (7 days); member_imports: the result of a roster
import, shown once the file is posted (POST/redirect/GET).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("password_set_at", sa.DateTime(), nullable=True))
    # Every account that exists has a password someone chose (there were no invitations before).
    op.execute("UPDATE users SET password_set_at = created_at")
    with op.batch_alter_table("password_resets") as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(length=12), nullable=False, server_default="reset"))
    op.create_table(
        "member_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"], name=op.f("fk_member_imports_community_id_communities")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_member_imports_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_imports")),
    )
    op.create_index("ix_member_imports_community_created", "member_imports", ["community_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_member_imports_community_created", table_name="member_imports")
    op.drop_table("member_imports")
    with op.batch_alter_table("password_resets") as batch_op:
        batch_op.drop_column("purpose")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("password_set_at")
