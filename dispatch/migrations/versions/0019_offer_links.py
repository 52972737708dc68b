"""One tap from the offer's SMS: offer_links, single-use sign-in links bound to a physician and a request (issue 22)

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offer_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("physician_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["physician_id"], ["physicians.id"], name=op.f("fk_offer_links_physician_id_physicians")),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_offer_links_request_id_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_offer_links_token_hash")),
    )
    op.create_index(op.f("ix_offer_links_request_id"), "offer_links", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_offer_links_request_id"), table_name="offer_links")
    op.drop_table("offer_links")
