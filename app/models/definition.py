"""Versioned process definitions: the BPMN XML and its hash, one row per version."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JSONType, UTCDateTime


class ProcessDefinition(db.Model):
    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_definition_key_version"),
        Index("ix_definition_key_status", "key", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200), default="")
    # Drafts have no version number until they are deployed.
    version: Mapped[int | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="deployed")  # draft | deployed
    # Deferred: a case's definition is joined on every case load, and its spec is cached by hash (parser.SPECS),
    # so the XML (tens of KB) is read only where it is used (parsing on a cache miss, the process pages).
    xml: Mapped[str] = mapped_column(Text, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deployed_by: Mapped[str | None] = mapped_column(String(80))
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    # The DMN documents the process's business rule tasks call, by file name: deployed and pinned with the
    # BPMN (sha256 covers them too), so a case keeps the tables of its version.
    decisions: Mapped[dict | None] = mapped_column(JSONType, deferred=True)  # read on a spec cache miss
    # Test cases written by the process owner (services/core/owner_tests.py), run before this version deploys.
    tests: Mapped[list | None] = mapped_column(JSONType)
