"""worker heartbeats: one row per kind of background worker (timers, outbox), read by /health/ready and /metrics

A new, empty table: no lock on existing tables, instant on any database size.

Revision ID: h20_ops
Revises: h14b_idempotency
Create Date: 2026-12-03 09:01:48.518089

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'h20_ops'
down_revision = 'h14b_idempotency'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('worker_heartbeat',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('host', sa.String(length=200), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('passes', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade():
    op.drop_table('worker_heartbeat')
