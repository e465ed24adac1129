"""The CAPA register: curative, corrective and preventive actions and the complaints they address."""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime
from app.vocabulary import ACTION_KINDS, ACTION_STATUSES  # noqa: F401 - re-exported by app.models


class Action(db.Model):
    __tablename__ = "capa_action"
    __table_args__ = (
        Index("ix_capa_status_due", "status", "due_on"),
        Index("ix_capa_owner", "owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    # What the action removes: recurrence counts later complaints with the same category and root cause.
    category: Mapped[str | None] = mapped_column(String(60))
    root_cause: Mapped[str | None] = mapped_column(Text)
    effectiveness: Mapped[str] = mapped_column(Text, default="")
    # The case and BPMN step the action came from (None when created by hand).
    source_case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"), index=True)
    source_bpmn_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ActionCase(db.Model):
    """Link between an action and a complaint it addresses."""

    __tablename__ = "capa_action_case"
    __table_args__ = (UniqueConstraint("action_id", "case_id", name="uq_capa_action_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("capa_action.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    linked_by: Mapped[str] = mapped_column(String(80))
