"""Cases (complaints and disputes): business columns for lists and indicators, and the workflow state."""

import hashlib
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.privacy import new_data_key
from app.models.types import JSONType, UTCDateTime, seconds_between

# Data keys copied from the workflow data into indexed columns after every step (see docs/modelling.md).
BUSINESS_FIELDS = (
    "channel", "origin", "kind", "category", "department", "severity",
    "customer_name", "customer_email", "customer_phone", "invoice_refs", "root_cause",
    "amount", "blocked_amount", "credited_amount", "satisfaction_score",
    "received_at", "due_at", "closed_at",
)


def cause_key(root_cause: str | None) -> str | None:
    """The same key for causes that differ only by case and surrounding blanks (Unicode-aware, any backend)."""
    text = (root_cause or "").strip().lower()
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


class Case(db.Model):
    __tablename__ = "case_record"
    __table_args__ = (
        Index("ix_case_process_status", "process_key", "status"),
        Index("ix_case_received", "received_at"),
        Index("ix_case_customer", "customer_name"),
        # Indicators: cases closed in a period, and the per-process figures of a period.
        Index("ix_case_closed", "closed_at"),
        Index("ix_case_process_received", "process_key", "received_at"),
        # Indicators: percentiles of the processing time are read by walking this index in duration order.
        Index("ix_case_cause_received", "category", "root_cause_key", "received_at"),  # CAPA recurrence
        Index("ix_case_processing_walk", "processing_seconds", "closed_at", "process_key", "channel", "origin",
              "kind", "category", "department"),
        # The open cases only (partial): the dashboard's overdue list walks it in deadline order. At a million
        # cases, 74,000 open, the walk of ix_case_due over every closed case took 2.3 s (README, "Cost as the
        # work grows").
        Index("ix_case_open_due", "due_at", postgresql_where=text("closed_at IS NULL"),
              sqlite_where=text("closed_at IS NULL")),
        # The open cases' columns the dashboard's snapshots read (backlog by age, breach forecast, open disputes),
        # so that they are read from this small index alone rather than from 74,000 wide rows at a million cases
        # (README, "Cost as the work grows").
        Index("ix_case_open_facts", "due_at", "id", "status", "received_at", "process_key", "channel", "origin",
              "kind", "category", "department", "blocked_amount", postgresql_where=text("closed_at IS NULL"),
              sqlite_where=text("closed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    process_key: Mapped[str] = mapped_column(String(100))
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    status: Mapped[str] = mapped_column(String(30), default="open")
    stage: Mapped[str] = mapped_column(String(500), default="")
    completed: Mapped[bool] = mapped_column(default=False)
    incident: Mapped[str | None] = mapped_column(Text)

    channel: Mapped[str | None] = mapped_column(String(40), index=True)
    origin: Mapped[str | None] = mapped_column(String(40), index=True)
    kind: Mapped[str | None] = mapped_column(String(40), index=True)
    category: Mapped[str | None] = mapped_column(String(60), index=True)
    department: Mapped[str | None] = mapped_column(String(60))
    severity: Mapped[str | None] = mapped_column(String(20))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(200))
    customer_phone: Mapped[str | None] = mapped_column(String(60))
    invoice_refs: Mapped[str | None] = mapped_column(String(500))
    root_cause: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    blocked_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    credited_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    satisfaction_score: Mapped[int | None] = mapped_column(Integer)

    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Facts for the indicators, kept by the step that produces them (app/services/core/rollup.py): the latest answer
    # letter and survey sent, and received -> closed in seconds.
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    survey_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processing_seconds: Mapped[float | None] = mapped_column(Float)
    # The root cause trimmed and lower-cased, hashed: "same cause" for recurrence, on every backend alike.
    root_cause_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))

    parent_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"), index=True)
    tracking_token: Mapped[str] = mapped_column(String(64), unique=True)
    # The next time a timer of this case is due: the timer worker polls this indexed column.
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)
    # The key sealing this case's personal values in the audit trail; erasure destroys it (app/models/privacy.py).
    data_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=new_data_key)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    definition = relationship("ProcessDefinition", lazy="joined")
    parent = relationship("Case", remote_side=[id], lazy="select")
    # Held by the case object, so that a step reads its workflow state once (the identity map is weak).
    workflow_state = relationship("WorkflowState", uselist=False, lazy="select")

    __mapper_args__ = {"version_id_col": lock_version}

    def refresh_facts(self) -> None:
        """Recompute the columns derived from this row (before each flush): processing time, root-cause key."""
        self.processing_seconds = seconds_between(self.received_at, self.closed_at)
        self.root_cause_key = cause_key(self.root_cause)


class WorkflowState(db.Model):
    """The SpiffWorkflow serialization of one case, without the spec (the definition row holds the XML)."""

    __tablename__ = "workflow_state"

    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"), primary_key=True)
    serializer_version: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SequenceCounter(db.Model):
    """Per prefix and year counters for case references (REC-2026-000123)."""

    __tablename__ = "sequence_counter"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
