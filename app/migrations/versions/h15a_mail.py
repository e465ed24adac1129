"""h15a_mail: the ingested_mail table (incoming e-mail, exactly once)

Revision ID: h15a_mail
Revises: h17_dmn
"""
from alembic import op
import sqlalchemy as sa

revision = 'h15a_mail'
down_revision = 'h17_dmn'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ingested_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=500), nullable=True),
    sa.Column('references', sa.Text(), nullable=True),
    sa.Column('raw_sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sender_address', sa.String(length=254), nullable=True),
    sa.Column('sender_name', sa.String(length=200), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('stored_name', sa.String(length=80), nullable=True),
    sa.Column('handled_by', sa.String(length=80), nullable=True),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    with op.batch_alter_table('ingested_mail', schema=None) as batch_op:
        batch_op.create_index('ix_ingested_mail_case', ['case_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ingested_mail_message_id'), ['message_id'], unique=False)
        batch_op.create_index('ix_ingested_mail_status', ['status', 'received_at'], unique=False)


def downgrade():
    with op.batch_alter_table('ingested_mail', schema=None) as batch_op:
        batch_op.drop_index('ix_ingested_mail_status')
        batch_op.drop_index(batch_op.f('ix_ingested_mail_message_id'))
        batch_op.drop_index('ix_ingested_mail_case')
    op.drop_table('ingested_mail')
