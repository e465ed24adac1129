"""Correspondence: message templates as versioned rows, and the replies staff are still writing (drafts)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JSONType, UTCDateTime


class MessageTemplate(db.Model):
    """One version of a letter or e-mail template; the highest version of a key is the active one.

    Rows are never changed: an edit or a roll back adds a version, so an outbox message that names the
    version it was written from can always be traced to the exact text.
    """

    __tablename__ = "message_template"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_message_template_key_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60))  # e.g. response, holding_letter, _signature
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # letter | email | partial (included by the others)
    label: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(String(300))  # why this version (seed, edit, roll back to vN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))


class ReplyDraft(db.Model):
    """A reply to the complainant being written on the case page, not sent yet (never in the outbox)."""

    __tablename__ = "reply_draft"
    __table_args__ = (Index("ix_reply_draft_case", "case_id", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(80))
    template_key: Mapped[str | None] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(20))  # email | letter | registered_letter
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attachment_ids: Mapped[list] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
