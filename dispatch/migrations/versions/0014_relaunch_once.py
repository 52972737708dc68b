"""A request is relaunched at most once: a unique key on requests.relaunch_of_id

Two consoles could relaunch the same expired request at the same instant, and two physicians then took two copies
of one patient (issue 22). Where that already happened, the first relaunch keeps the link; a later copy keeps its
`relaunch_of` event on its trail but no longer the column, so that the key can be created.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE requests SET relaunch_of_id = NULL WHERE relaunch_of_id IS NOT NULL AND id NOT IN "
        "(SELECT MIN(id) FROM requests WHERE relaunch_of_id IS NOT NULL GROUP BY relaunch_of_id)"
    )
    with op.batch_alter_table("requests") as batch_op:
        batch_op.create_unique_constraint(op.f("uq_requests_relaunch_of_id"), ["relaunch_of_id"])


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch_op:
        batch_op.drop_constraint(op.f("uq_requests_relaunch_of_id"), type_="unique")
