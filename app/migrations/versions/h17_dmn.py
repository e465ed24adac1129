"""Decision tables (DMN) and owner tests stored with their process definition version.

Revision ID: h17_dmn
Revises: h15b_templates
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "h17_dmn"
down_revision = "h15b_templates"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("process_definition") as batch:
        batch.add_column(sa.Column("decisions", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                                   nullable=True))
        batch.add_column(sa.Column("tests", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                                                   "postgresql"), nullable=True))


def downgrade():
    with op.batch_alter_table("process_definition") as batch:
        batch.drop_column("tests")
        batch.drop_column("decisions")
