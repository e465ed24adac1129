"""Dashboard snapshots at a million cases: partial indexes of the open cases' dashboard columns
(ix_case_open_facts: WHERE closed_at IS NULL, with the blocked amounts for the open disputes) and of the ready
tasks by case (ix_task_ready_case: WHERE state = 'ready'), so that the backlog, the breach forecast and the open
disputes read two small indexes instead of 74,000 case rows and 135,000 task rows (README, "Cost as the work
grows").

PostgreSQL: CREATE INDEX CONCURRENTLY, outside the revision's transaction, as h21b_task_step.
SQLite: a plain CREATE INDEX.

Revision ID: h21d_open_indexes
Revises: h21d_step_durations
"""
import sqlalchemy as sa
from alembic import op

revision = "h21d_open_indexes"
down_revision = "h21d_step_durations"
branch_labels = None
depends_on = None

OPEN = sa.text("closed_at IS NULL")
READY = sa.text("state = 'ready'")
INDEXES = [("ix_case_open_facts", "case_record", ["due_at", "id", "status", "received_at", "process_key", "channel",
                                                  "origin", "kind", "category", "department", "blocked_amount"],
            {"postgresql_where": OPEN, "sqlite_where": OPEN}),
           ("ix_task_ready_case", "task", ["case_id", "process_key", "bpmn_id", "created_at"],
            {"postgresql_where": READY, "sqlite_where": READY})]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
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
