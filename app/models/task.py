"""The task table: ready human tasks written after every engine step; the task list reads only this."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JSONType, UTCDateTime


class TaskRow(db.Model):
    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_state_lane_due", "state", "lane", "due_at"),
        Index("ix_task_state_assignee_due", "state", "assignee", "due_at"),
        Index("ix_task_case_state", "case_id", "state"),
        Index("ix_task_state_completed", "state", "completed_at"),  # indicators: step durations of a period
    )

    # The SpiffWorkflow task id (a UUID), stable while the task is ready.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    case_reference: Mapped[str] = mapped_column(String(40), index=True)
    process_key: Mapped[str] = mapped_column(String(100))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="ready")  # ready | completed | cancelled
    assignee: Mapped[str | None] = mapped_column(String(80))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    priority: Mapped[int] = mapped_column(Integer, default=0)
    customer_name: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(80))
    draft: Mapped[dict | None] = mapped_column(JSONType)
