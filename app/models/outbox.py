"""Messages to complainants, written in the same transaction as the step that produced them."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JSONType, UTCDateTime


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"), index=True)
    template: Mapped[str] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(20))  # email | letter | registered_letter
    recipient: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # pending | sending (claimed by a sender) | sent | failed (gave up) | to_print (a letter, until posted)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when a sender took it (status sending)
    sent_by: Mapped[str | None] = mapped_column(String(80))  # who posted a letter; "system" for e-mail
    # Correspondence (h15b): the template version the text was written from, the recipient's postal identity for
    # the letter, a sanitised HTML body of a composed reply, case files sent with it, the letter's PDF kept as a
    # case attachment (and its hash), and a registered letter's postal tracking number.
    template_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("message_template.id", name="fk_outbox_template_version"))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    postal_address: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    attachment_ids: Mapped[list | None] = mapped_column(JSONType)
    pdf_attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id", name="fk_outbox_pdf_attachment"))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(60))
