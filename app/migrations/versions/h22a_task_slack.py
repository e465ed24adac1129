"""The breach forecast at a million cases: `task.slack_seconds` (deadline minus entry into the step, in seconds,
kept by the model's defaults and listeners like due_key) and the partial index of the ready rows
ix_task_ready_slack (process, step, slack, deadline, case), so that "À risque" and the dashboard's cases at risk
read, per step, the ready rows whose slack is below the step's median time to closure instead of every ready row
whose deadline lies in the horizon joined to its case (README, "Cost as the work grows").

The column is filled for every existing row: on PostgreSQL by one UPDATE (EXTRACT(epoch FROM due_at -
created_at): the same microseconds as Python's timedelta), on SQLite row by row from Python (julianday()
would round), then the index is built: CREATE INDEX CONCURRENTLY on PostgreSQL, outside the revision's
transaction, as h21d_open_indexes.

Revision ID: h22a_task_slack
Revises: h21d_open_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = "h22a_task_slack"
down_revision = "h21d_open_indexes"
branch_labels = None
depends_on = None

READY = sa.text("state = 'ready'")
INDEX = ("ix_task_ready_slack", "task", ["process_key", "bpmn_id", "slack_seconds", "due_key", "case_id"])


def _fill_sqlite(bind) -> None:
    from app.models.types import UTCDateTime, seconds_between

    task = sa.table("task", sa.column("id", sa.String), sa.column("created_at", UTCDateTime()),
                    sa.column("due_at", UTCDateTime()), sa.column("slack_seconds", sa.Float))
    rows = bind.execute(sa.select(task.c.id, task.c.created_at, task.c.due_at).where(task.c.due_at.is_not(None)))
    values = [{"key": r.id, "slack": seconds_between(r.created_at, r.due_at)} for r in rows]
    if values:
        bind.execute(task.update().where(task.c.id == sa.bindparam("key"))
                     .values(slack_seconds=sa.bindparam("slack")), values)


def upgrade():
    bind = op.get_bind()
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("slack_seconds", sa.Float(), nullable=True))
    name, table, columns = INDEX
    if bind.dialect.name == "postgresql":
        op.execute("UPDATE task SET slack_seconds = EXTRACT(epoch FROM due_at - created_at) "
                   "WHERE due_at IS NOT NULL")
        with op.get_context().autocommit_block():
            op.create_index(name, table, columns, postgresql_where=READY, postgresql_concurrently=True,
                            if_not_exists=True)
    else:
        _fill_sqlite(bind)
        op.create_index(name, table, columns, sqlite_where=READY)


def downgrade():
    name, table, _ = INDEX
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
    else:
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("task") as batch:
        batch.drop_column("slack_seconds")
