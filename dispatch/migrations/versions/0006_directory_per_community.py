"""directory_entries belong to one community; communities may allow secure addresses outside mssante.fr

Each outside treating GP's entry is given the community of the requests that name it; an entry named by
requests of several communities is copied once per further community, and those requests point at their copy.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_entries = sa.table(
    "directory_entries",
    sa.column("id", sa.Integer),
    sa.column("community_id", sa.Integer),
    sa.column("rpps", sa.String),
    sa.column("name", sa.String),
    sa.column("mssante", sa.String),
    sa.column("created_at"),
    sa.column("updated_at"),
)
_requests = sa.table(
    "requests", sa.column("id", sa.Integer), sa.column("community_id", sa.Integer), sa.column("treating_directory_id", sa.Integer)
)


def upgrade() -> None:
    # No batch (table copy) on directory_entries: requests reference it, and SQLite, foreign keys on, refuses to
    # drop a referenced table. SQLite adds the column in place with its REFERENCES clause inline (ADD COLUMN
    # allows it, the default being NULL; DROP COLUMN removes it again); PostgreSQL gets a named constraint.
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        column = sa.Column("community_id", sa.Integer(), sa.ForeignKey("communities.id"), nullable=True)
        op.add_column("directory_entries", column, inline_references=True)
    else:
        op.add_column("directory_entries", sa.Column("community_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_directory_entries_community_id_communities", "directory_entries", "communities", ["community_id"], ["id"]
        )
    op.drop_index("ix_directory_entries_rpps", table_name="directory_entries")
    op.create_index("ix_directory_entries_community_rpps", "directory_entries", ["community_id", "rpps"])
    op.add_column("communities", sa.Column("allow_non_mssante", sa.Boolean(), nullable=False, server_default=sa.false()))
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    pairs = conn.execute(
        sa.select(_requests.c.treating_directory_id, _requests.c.community_id)
        .where(_requests.c.treating_directory_id.is_not(None))
        .distinct()
        .order_by(_requests.c.treating_directory_id, _requests.c.community_id)
    ).all()
    owner: dict[int, int] = {}
    for entry_id, community_id in pairs:
        if entry_id not in owner:  # the first community (lowest id) keeps the entry itself
            owner[entry_id] = community_id
            conn.execute(sa.update(_entries).where(_entries.c.id == entry_id).values(community_id=community_id))
            continue
        columns = ("rpps", "name", "mssante", "created_at", "updated_at")
        copied = sa.select(sa.literal(community_id, sa.Integer), *(_entries.c[name] for name in columns)).where(
            _entries.c.id == entry_id
        )
        copy = conn.execute(
            sa.insert(_entries).from_select(["community_id", *columns], copied).returning(_entries.c.id)
        ).scalar_one()
        conn.execute(
            sa.update(_requests)
            .where(_requests.c.treating_directory_id == entry_id, _requests.c.community_id == community_id)
            .values(treating_directory_id=copy)
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_column("communities", "allow_non_mssante")
    op.drop_index("ix_directory_entries_community_rpps", table_name="directory_entries")
    op.create_index("ix_directory_entries_rpps", "directory_entries", ["rpps"])
    if not sqlite:
        op.drop_constraint("fk_directory_entries_community_id_communities", "directory_entries", type_="foreignkey")
    op.drop_column("directory_entries", "community_id")  # the copies made for further communities stay
