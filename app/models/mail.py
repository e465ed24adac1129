"""Incoming e-mail: one row per message read from the mailbox, whatever became of it (exactly once)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime

# What became of a message: a new case, recorded on an open case of the same sender (public duplicate rules),
# a reply threaded onto its case, an automatic reply recorded only, a delivery report applied to the outbox,
# held for staff (too large, unparseable, blocked sender, failed), or thrown away by staff.
MAIL_STATUSES = ("case_opened", "merged", "threaded", "auto_reply", "bounce", "quarantined", "discarded")


class IngestedMail(db.Model):
    __tablename__ = "ingested_mail"
    __table_args__ = (
        Index("ix_ingested_mail_status", "status", "received_at"),
        Index("ix_ingested_mail_case", "case_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of "mid:<Message-ID>", or of "raw:<sha256 of the bytes>" for a message without one: the same
    # message fetched twice (crash, two fetchers, a restored mailbox) hits this unique key.
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    references: Mapped[str | None] = mapped_column(Text)  # the sender's References chain, to thread our replies
    raw_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(300))  # mailbox, folder and UID it was read from
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sender_address: Mapped[str | None] = mapped_column(String(254))
    sender_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)  # why it was quarantined or recorded only (French)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id", ondelete="SET NULL"))
    stored_name: Mapped[str | None] = mapped_column(String(80))  # the raw message kept while quarantined
    handled_by: Mapped[str | None] = mapped_column(String(80))  # who released or discarded it
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
