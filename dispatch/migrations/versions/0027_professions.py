"""Several professions (issue 26): a professional's profession, a request's profession and acts

physicians.profession (TRE_G15 code, "10" for every physician already there); requests.profession ("10" for every
request already there) and requests.acts (what is asked of a nurse...). The codes are written out here (not imported),
so that this migration keeps meaning what it meant when written. On SQLite each table is rebuilt (batch mode).

Revision ID: 0027
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0024"
branch_labels = None
depends_on = None

CODES = ("10", "21", "40", "50", "60", "70")
PROFESSION_CHECK = "profession IN ({})".format(", ".join(f"'{code}'" for code in CODES))


def upgrade() -> None:
    with op.batch_alter_table("physicians") as batch_op:
        batch_op.add_column(sa.Column("profession", sa.String(length=2), nullable=False, server_default="10"))
        batch_op.create_check_constraint(op.f("ck_physicians_profession"), PROFESSION_CHECK)
    with op.batch_alter_table("requests") as batch_op:
        batch_op.add_column(sa.Column("profession", sa.String(length=2), nullable=False, server_default="10"))
        batch_op.add_column(sa.Column("acts", sa.JSON(), nullable=True))
        batch_op.create_check_constraint(op.f("ck_requests_profession"), PROFESSION_CHECK)


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch_op:
        batch_op.drop_constraint(op.f("ck_requests_profession"), type_="check")
        batch_op.drop_column("acts")
        batch_op.drop_column("profession")
    with op.batch_alter_table("physicians") as batch_op:
        batch_op.drop_constraint(op.f("ck_physicians_profession"), type_="check")
        batch_op.drop_column("profession")
