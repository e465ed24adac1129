"""Attachments and internal comments on a case (each is also recorded as an audit event)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime


class Attachment(db.Model):
    """A file attached to a case; stored under instance/attachments with a random name, never the user's."""

    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_case", "case_id", "uploaded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(200))  # display and download name only
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Comment(db.Model):
    """An internal comment: staff only, never shown to the complainant."""

    __tablename__ = "case_comment"
    __table_args__ = (Index("ix_comment_case", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
