"""Requests from other professionals, teleconsultation, the SAS (issue 27)

requesters (a nurse, a pharmacist with a profession and an RPPS, or an EHPAD's staff with its FINESS: accounts of role
`requester`); communities.teleconsultation_hosts; requests.requester_id, consent_at, observations (encrypted JSON),
modality (CHECK in_person/teleconsultation), teleconsultation_url, sas_regulator_rpps, sas_regulator_name; a CHECK on
requests.source, which gains `ehpad`. The values are written out here (not imported), so that this migration keeps
meaning what it meant when written. On SQLite each table is rebuilt (batch mode).

Revision ID: 0030
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

CODES = ("10", "21", "40", "50", "60", "70")
PROFESSION_CHECK = "profession IS NULL OR profession IN ({})".format(", ".join(f"'{code}'" for code in CODES))
SOURCES = ("cot", "sas", "samu", "pharmacy", "nurse", "ehpad", "emergency_dept", "other")
SOURCE_CHECK = "source IN ({})".format(", ".join(f"'{source}'" for source in SOURCES))
MODALITY_CHECK = "modality IN ('in_person', 'teleconsultation')"


def upgrade() -> None:
    op.create_table(
        "requesters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("profession", sa.String(length=2), nullable=True),
        sa.Column("rpps", sa.String(length=11), nullable=True),
        sa.Column("finess", sa.String(length=9), nullable=True),
        sa.CheckConstraint(PROFESSION_CHECK, name=op.f("ck_requesters_profession")),
        sa.CheckConstraint("rpps IS NOT NULL OR finess IS NOT NULL", name=op.f("ck_requesters_identified")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_requesters_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requesters")),
        sa.UniqueConstraint("user_id", name=op.f("uq_requesters_user_id")),
        sa.UniqueConstraint("rpps", name=op.f("uq_requesters_rpps")),
    )
    with op.batch_alter_table("communities") as batch_op:
        batch_op.add_column(sa.Column("teleconsultation_hosts", sa.JSON(), nullable=True))
    with op.batch_alter_table("requests") as batch_op:
        batch_op.add_column(sa.Column("requester_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("consent_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("observations", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("modality", sa.String(length=20), nullable=False, server_default="in_person"))
        batch_op.add_column(sa.Column("teleconsultation_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("sas_regulator_rpps", sa.String(length=11), nullable=True))
        batch_op.add_column(sa.Column("sas_regulator_name", sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(op.f("fk_requests_requester_id_requesters"), "requesters", ["requester_id"], ["id"])
        batch_op.create_index(op.f("ix_requests_requester_id"), ["requester_id"], unique=False)
        batch_op.create_check_constraint(op.f("ck_requests_source"), SOURCE_CHECK)
        batch_op.create_check_constraint(op.f("ck_requests_modality"), MODALITY_CHECK)


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch_op:
        batch_op.drop_constraint(op.f("ck_requests_modality"), type_="check")
        batch_op.drop_constraint(op.f("ck_requests_source"), type_="check")
        batch_op.drop_index(op.f("ix_requests_requester_id"))
        batch_op.drop_constraint(op.f("fk_requests_requester_id_requesters"), type_="foreignkey")
        for column in (
            "sas_regulator_name",
            "sas_regulator_rpps",
            "teleconsultation_url",
            "modality",
            "observations",
            "consent_at",
            "requester_id",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("communities") as batch_op:
        batch_op.drop_column("teleconsultation_hosts")
    op.drop_table("requesters")
