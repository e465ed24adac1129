"""Serialized workflow states kept when a case moves to another definition version (migration)."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime


class WorkflowStateArchive(db.Model):
    """A case's workflow state as it was before a migration, with the version it ran on."""

    __tablename__ = "workflow_state_archive"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"), index=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    to_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    serializer_version: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(40), default="migration")
    archived_at: Mapped[datetime] = mapped_column(UTCDateTime())
    archived_by: Mapped[str] = mapped_column(String(80))
