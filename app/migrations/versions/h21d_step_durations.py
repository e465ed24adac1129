"""Step durations as histograms in the indicator rollup: `case_rollup.duration_bucket`.

The `step` rows (tasks completed per day or month, process and user task) are split by the bucket of the tasks'
durations (app/services/core/sql_stats.duration_bucket: 1 s wide below 16 s, then 16 buckets per power of two),
so that the dashboard finds in which bucket a percentile's rank falls from a few counters, and walks the duration
index from that bucket only instead of over half of the period's tasks (README, "Cost as the work grows").

The column is added, then every rollup row is recomputed by the application's own `rollup.recompute` on the
migration's connection (the key of every row gains the column, so every key hash changes: the rows must be
exactly those the session hooks keep from now on). The downgrade recomputes the rows without buckets, as the
previous code kept them, then drops the column.

Revision ID: h21d_step_durations
Revises: h21b_task_step
"""
import sqlalchemy as sa
from alembic import op

revision = "h21d_step_durations"
down_revision = "h21b_task_step"
branch_labels = None
depends_on = None


def upgrade():
    from app.services.core import rollup

    with op.batch_alter_table("case_rollup") as batch:
        batch.add_column(sa.Column("duration_bucket", sa.Integer(), nullable=True))
    rollup.recompute(op.get_bind())


def downgrade():
    from app.services.core import rollup

    rollup.recompute(op.get_bind(), durations=False)
    with op.batch_alter_table("case_rollup") as batch:
        batch.drop_column("duration_bucket")
