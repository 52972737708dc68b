"""One identity per community (issue 25, point 4): the CPTS's IdNatStruct (the CDA's custodian, the XDM's author
institution), its MSSanté application mailbox (the From of its secure messages, whose certificate and key lie in
DISPATCH_MSSANTE_CERTS_DIR, and the mailbox read for their receipts) and its SMS sender; NULL: the installation's.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch_op:
        batch_op.add_column(sa.Column("custodian_id", sa.String(length=15), nullable=True))
        batch_op.add_column(sa.Column("mssante_from", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("sms_sender", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("communities") as batch_op:
        batch_op.drop_column("sms_sender")
        batch_op.drop_column("mssante_from")
        batch_op.drop_column("custodian_id")
