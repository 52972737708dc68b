"""Several professions, the nearest first (issue 26): professions, rules per profession, waves by distance

physicians.profession (TRE_G15 code, "10" for every physician already there); requests.profession ("10" for every
request already there) and requests.acts (what is asked of a nurse...). The codes are written out here (not imported),
so that this migration keeps meaning what it meant when written. On SQLite each table is rebuilt (batch mode).
Points 2: profession_rules (per community and profession: windows and waves); physicians.lat/lon (the practice);
requests.patient_lat/patient_lon, plan_waves, waves_opened, next_wave_at; offers.distance_km.

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

CODES = ("10", "21", "40", "50", "60", "70")
PROFESSION_CHECK = "profession IN ({})".format(", ".join(f"'{code}'" for code in CODES))


def upgrade() -> None:
    with op.batch_alter_table("physicians") as batch_op:
        batch_op.add_column(sa.Column("profession", sa.String(length=2), nullable=False, server_default="10"))
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))
        batch_op.create_check_constraint(op.f("ck_physicians_profession"), PROFESSION_CHECK)
    with op.batch_alter_table("requests") as batch_op:
        batch_op.add_column(sa.Column("profession", sa.String(length=2), nullable=False, server_default="10"))
        batch_op.add_column(sa.Column("acts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("patient_lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("patient_lon", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("plan_waves", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("waves_opened", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_wave_at", sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(op.f("ck_requests_profession"), PROFESSION_CHECK)
    with op.batch_alter_table("offers") as batch_op:
        batch_op.add_column(sa.Column("distance_km", sa.Float(), nullable=True))
    op.create_table(
        "profession_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("profession", sa.String(length=2), nullable=False),
        sa.Column("exclusive_s", sa.Integer(), nullable=False),
        sa.Column("response_s", sa.Integer(), nullable=False),
        sa.Column("waves", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(PROFESSION_CHECK, name=op.f("ck_profession_rules_profession")),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"], name=op.f("fk_profession_rules_community_id_communities")),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], name=op.f("fk_profession_rules_updated_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profession_rules")),
        sa.UniqueConstraint("community_id", "profession", name=op.f("uq_profession_rules_community_id")),
    )


def downgrade() -> None:
    op.drop_table("profession_rules")
    with op.batch_alter_table("offers") as batch_op:
        batch_op.drop_column("distance_km")
    with op.batch_alter_table("requests") as batch_op:
        batch_op.drop_constraint(op.f("ck_requests_profession"), type_="check")
        for column in ("next_wave_at", "waves_opened", "plan_waves", "patient_lon", "patient_lat", "acts", "profession"):
            batch_op.drop_column(column)
    with op.batch_alter_table("physicians") as batch_op:
        batch_op.drop_constraint(op.f("ck_physicians_profession"), type_="check")
        for column in ("lon", "lat", "profession"):
            batch_op.drop_column(column)
