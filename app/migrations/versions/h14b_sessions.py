"""user_account.session_version: revocable staff sessions

Revision ID: h14b_sessions
Revises: lead19_privacy
"""
from alembic import op
import sqlalchemy as sa

revision = 'h14b_sessions'
down_revision = 'lead19_privacy'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('session_version')
