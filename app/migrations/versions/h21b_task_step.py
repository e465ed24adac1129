"""task list and dashboard at a million cases: partial indexes of ready rows by step and channel
(ix_task_ready_step) and by customer name trigrams (ix_task_ready_customer: GIN, pg_trgm, on PostgreSQL; a
plain partial index on SQLite), and of open cases by deadline (ix_case_open_due: WHERE closed_at IS NULL)

PostgreSQL: CREATE INDEX CONCURRENTLY, outside the revision's transaction: writes to `task` and `case_record`
go on while they build (timed on the 1,000,000-case database: README, "Cost as the work grows").
SQLite: a plain CREATE INDEX (the application is stopped for upgrades there).

Revision ID: h21b_task_step
Revises: h16c_paris_days
"""
import sqlalchemy as sa
from alembic import op

revision = "h21b_task_step"
down_revision = "h16c_paris_days"
branch_labels = None
depends_on = None

OPEN = sa.text("closed_at IS NULL")
READY = sa.text("state = 'ready'")  # partial indexes of ready rows: the task list writes 'ready' as a literal
INDEXES = [("ix_task_ready_step", "task", ["bpmn_id", "channel", "due_key"],
            {"postgresql_where": READY, "sqlite_where": READY}),
           ("ix_case_open_due", "case_record", ["due_at"], {"postgresql_where": OPEN, "sqlite_where": OPEN}),
           ("ix_task_ready_customer", "task", ["customer_key"],
            {"postgresql_using": "gin", "postgresql_ops": {"customer_key": "gin_trgm_ops"},
             "postgresql_where": READY, "sqlite_where": READY})]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        with op.get_context().autocommit_block():
            for name, table, columns, options in INDEXES:
                op.create_index(name, table, columns, postgresql_concurrently=True, if_not_exists=True, **options)
    else:
        for name, table, columns, options in INDEXES:
            op.create_index(name, table, columns, **options)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for name, table, _, _ in INDEXES:
                op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
    else:
        for name, table, _, _ in INDEXES:
            op.drop_index(name, table_name=table)
