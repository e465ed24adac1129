"""Deadline clocks per case and staff notifications: read by lists, indicators and the UI without the workflow."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime


class CaseClock(db.Model):
    """One run of a named deadline clock (acknowledgment, answer, holding_letter...) of a case."""

    __tablename__ = "case_clock"
    __table_args__ = (
        Index("ix_clock_case_name", "case_id", "name"),
        Index("ix_clock_open_due", "stopped_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    variable: Mapped[str | None] = mapped_column(String(60))  # the case data key holding the due date
    remind_variable: Mapped[str | None] = mapped_column(String(60))  # the data key of the reminder date
    days: Mapped[int] = mapped_column(Integer)
    calendar: Mapped[str] = mapped_column(String(10))  # calendar | working
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)  # total paused time so far
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(10))  # met | breached (once stopped)
    bpmn_id: Mapped[str | None] = mapped_column(String(200))

    def state(self, now: datetime) -> str:
        """running | paused | overdue | met | breached."""
        if self.stopped_at is not None:
            return self.outcome or "met"
        if self.paused_at is not None:
            return "paused"
        return "overdue" if now > self.due_at else "running"


class Notification(db.Model):
    """A message to a staff member (username) or to every member of a group."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user_read", "username", "read_at"),
        Index("ix_notification_group_read", "group_name", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str | None] = mapped_column(String(80))
    group_name: Mapped[str | None] = mapped_column(String(100))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # reminder | escalation | info
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A group notification is read by whoever reads it first: it is a shared to-do, like a group task.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_by: Mapped[str | None] = mapped_column(String(80))
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
