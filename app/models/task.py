"""The task table: ready human tasks written after every engine step; the task list reads only this."""

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JSONType, UTCDateTime


class TaskRow(db.Model):
    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_state_lane_due", "state", "lane", "due_at"),
        Index("ix_task_state_assignee_due", "state", "assignee", "due_at"),
        Index("ix_task_case_state", "case_id", "state"),
        # Indicators: tasks completed per step in a period (range count), and the percentiles of their durations
        # (walk in duration order); the case's filter columns are copied here so both stay inside the index.
        Index("ix_task_step_completed", "process_key", "bpmn_id", "state", "completed_at", "channel", "origin",
              "kind", "category", "department", "duration_seconds"),
        Index("ix_task_step_duration", "process_key", "bpmn_id", "state", "duration_seconds", "completed_at",
              "channel", "origin", "kind", "category", "department"),
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
    # Copies of the case's filter columns (kept equal by app/services/rollup.py) and created -> completed in seconds.
    origin: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str | None] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(60))
    department: Mapped[str | None] = mapped_column(String(60))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(80))
    draft: Mapped[dict | None] = mapped_column(JSONType)
