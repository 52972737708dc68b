"""Geography (issue 26, point 3): the national address base loaded locally, and where a patient's address was placed

ban_addresses (one numbered address per BAN line, names folded to keys), ban_streets and ban_communes (their
centroids, computed at load); requests.patient_address (the street typed), patient_precision (housenumber, street
or municipality: written out here, not imported) and patient_commune (the commune an anonymised offer shows).

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

PRECISION_CHECK = "patient_precision IS NULL OR patient_precision IN ('housenumber', 'street', 'municipality')"


def upgrade() -> None:
    op.create_table(
        "ban_addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("code_insee", sa.String(length=5), nullable=False),
        sa.Column("code_postal", sa.String(length=5), nullable=False),
        sa.Column("street_key", sa.String(length=200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("rep", sa.String(length=20), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ban_addresses")),
    )
    op.create_index(op.f("ix_ban_addresses_departement"), "ban_addresses", ["departement"])
    op.create_index("ix_ban_addresses_street_number", "ban_addresses", ["code_insee", "street_key", "number"])
    op.create_table(
        "ban_streets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("code_insee", sa.String(length=5), nullable=False),
        sa.Column("street_key", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ban_streets")),
    )
    op.create_index(op.f("ix_ban_streets_departement"), "ban_streets", ["departement"])
    op.create_index("ix_ban_streets_street", "ban_streets", ["code_insee", "street_key"], unique=True)
    op.create_table(
        "ban_communes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("code_insee", sa.String(length=5), nullable=False),
        sa.Column("code_postal", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ban_communes")),
    )
    op.create_index(op.f("ix_ban_communes_departement"), "ban_communes", ["departement"])
    op.create_index("ix_ban_communes_postcode", "ban_communes", ["code_postal", "name_key"])
    op.create_index("ix_ban_communes_name", "ban_communes", ["name_key"])
    with op.batch_alter_table("requests") as batch_op:
        batch_op.add_column(sa.Column("patient_address", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("patient_precision", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("patient_commune", sa.String(length=100), nullable=True))
        batch_op.create_check_constraint(op.f("ck_requests_patient_precision"), PRECISION_CHECK)


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch_op:
        batch_op.drop_constraint(op.f("ck_requests_patient_precision"), type_="check")
        for column in ("patient_commune", "patient_precision", "patient_address"):
            batch_op.drop_column(column)
    op.drop_table("ban_communes")
    op.drop_table("ban_streets")
    op.drop_table("ban_addresses")
