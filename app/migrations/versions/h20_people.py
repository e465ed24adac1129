"""people: last sign-in, directory accounts, absences (columns of user_account)

Existing accounts are local ones: auth_source is backfilled to 'local' by its server default. PostgreSQL adds
nullable columns and a constant default without rewriting the table (a brief ACCESS EXCLUSIVE lock on
user_account only); SQLite copies the (small) table through batch mode.

Revision ID: h20_people
Revises: h20_ops
Create Date: 2026-12-03 09:06:46.523507

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'h20_people'
down_revision = 'h20_ops'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('auth_source', sa.String(length=10), server_default='local', nullable=False))
        batch_op.add_column(sa.Column('directory_dn', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('absent_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('absence_delegate', sa.String(length=80), nullable=True))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('absence_delegate')
        batch_op.drop_column('absent_since')
        batch_op.drop_column('directory_dn')
        batch_op.drop_column('auth_source')
        batch_op.drop_column('last_login_at')

