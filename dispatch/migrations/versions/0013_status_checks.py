"""A CHECK constraint per status column: the database keeps states, statuses and phases to the domain's enums

requests.state, outcome, accepted_phase, synthesis_status, callback_result; offers.status, phase; syntheses.status.
The values are written out here (not imported), so that this migration keeps meaning what it meant when written.
On SQLite each table is rebuilt (batch mode), with foreign keys off for the migration (env.py).

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

STATES = ("exclusive", "community", "accepted", "seen", "no_show", "expired", "cancelled")
PHASES = ("exclusive", "community")
OFFER_STATUSES = ("notified", "refused", "accepted", "withdrawn", "released")
SYNTHESIS_STATUSES = ("pending", "sent", "delivered", "read", "refused", "failed", "not_sendable", "not_needed")
CALLBACK_RESULTS = ("reoriented_sas", "reoriented_15", "advice_given", "unreachable", "relaunched")


def _in(column: str, values: tuple[str, ...], *, nullable: bool) -> str:
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})" if not nullable else f"{column} IS NULL OR {column} IN ({listed})"


CHECKS = {
    "requests": (
        ("state", _in("state", STATES, nullable=False)),
        ("outcome", _in("outcome", ("seen", "no_show"), nullable=True)),
        ("accepted_phase", _in("accepted_phase", PHASES, nullable=True)),
        ("synthesis_status", _in("synthesis_status", SYNTHESIS_STATUSES, nullable=True)),
        ("callback_result", _in("callback_result", CALLBACK_RESULTS, nullable=True)),
    ),
    "offers": (
        ("status", _in("status", OFFER_STATUSES, nullable=False)),
        ("phase", _in("phase", PHASES, nullable=False)),
    ),
    "syntheses": (("status", _in("status", SYNTHESIS_STATUSES, nullable=False)),),
}


def upgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for name, condition in checks:
                batch_op.create_check_constraint(op.f(f"ck_{table}_{name}"), condition)


def downgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for name, _ in checks:
                batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
