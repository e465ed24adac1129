"""Audit events keyed by an HMAC audit key: the key id stored with each event (NULL before keying).

Revision ID: h18_audit
Revises: h15a_mail
"""

import sqlalchemy as sa
from alembic import op

revision = "h18_audit"
down_revision = "h15a_mail"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both backends: SQLite would rebuild the table under batch mode and lose the
    # append-only triggers. Existing events keep their plain hash (key_id NULL); `flask audit checkpoint`
    # (or the timer worker) then covers them with the first signed checkpoint.
    op.add_column("audit_event", sa.Column("key_id", sa.String(length=40), nullable=True))


def downgrade():
    op.drop_column("audit_event", "key_id")
