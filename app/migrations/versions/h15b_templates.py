"""Correspondence: versioned message templates, reply drafts, outbox columns for letters as PDF.

Revision ID: h15b_templates
Revises: h20_people
Create Date: 2026-12-03

The template rows are seeded from app/templates/messages/ at first use (app/services/messaging/templates.py),
not here: a migration does not read the application's files, and a seed that changes ships no revision.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "h15b_templates"
down_revision = "h20_people"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    op.create_table(
        "message_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", "version", name="uq_message_template_key_version"),
    )
    op.create_table(
        "reply_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("template_key", sa.String(length=60), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attachment_ids", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_record.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reply_draft", schema=None) as batch_op:
        batch_op.create_index("ix_reply_draft_case", ["case_id", "updated_at"], unique=False)
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template_version_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("recipient_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("postal_address", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("body_html", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attachment_ids", JSON, nullable=True))
        batch_op.add_column(sa.Column("pdf_attachment_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pdf_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("tracking_number", sa.String(length=60), nullable=True))
        batch_op.create_foreign_key("fk_outbox_template_version", "message_template", ["template_version_id"], ["id"])
        batch_op.create_foreign_key("fk_outbox_pdf_attachment", "attachment", ["pdf_attachment_id"], ["id"])
    # Backfill: the letters already in the outbox keep their recipient; the name comes from their case.
    op.execute("UPDATE outbox_message SET recipient_name = (SELECT customer_name FROM case_record "
               "WHERE case_record.id = outbox_message.case_id)")


def downgrade():
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outbox_pdf_attachment", type_="foreignkey")
        batch_op.drop_constraint("fk_outbox_template_version", type_="foreignkey")
        for column in ("tracking_number", "pdf_sha256", "pdf_attachment_id", "attachment_ids", "body_html",
                       "postal_address", "recipient_name", "template_version_id"):
            batch_op.drop_column(column)
    with op.batch_alter_table("reply_draft", schema=None) as batch_op:
        batch_op.drop_index("ix_reply_draft_case")
    op.drop_table("reply_draft")
    op.drop_table("message_template")
