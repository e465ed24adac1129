"""The task table: ready human tasks written after every engine step; the task list reads only this."""

import unicodedata
from datetime import UTC, datetime

from sqlalchemy import DDL, Float, ForeignKey, Index, Integer, String, event, inspect, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JSONType, UTCDateTime, seconds_between

# The sort key of tasks without a deadline: after every real date, so "undated last" is a plain ascending order
# that an index can deliver (`due_at IS NULL, due_at` cannot use one).
UNDATED = datetime(9999, 12, 31, tzinfo=UTC)


def search_key(text: str | None) -> str | None:
    """Lower case, accents removed, spaces collapsed: 'Lefèvre  Éric' -> 'lefevre eric' (names and searches)."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def _due_key_default(context) -> datetime:
    return context.get_current_parameters().get("due_at") or UNDATED


def _customer_key_default(context) -> str | None:
    return search_key(context.get_current_parameters().get("customer_name"))


def _slack_default(context) -> float | None:
    params = context.get_current_parameters()
    return seconds_between(params.get("created_at"), params.get("due_at"))


class TaskRow(db.Model):
    __tablename__ = "task"
    __table_args__ = (  # the task list's indexes are below the class
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
    # Copies of the case's filter columns (kept equal by app/services/core/rollup.py), created -> completed (s).
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

    # Derived keys for the task list, never set by hand: filled from due_at and customer_name on every insert
    # (ORM or Core, through the defaults) and every ORM update (the listener below). A Core UPDATE that changes
    # due_at or customer_name must set them too.
    due_key: Mapped[datetime] = mapped_column(UTCDateTime(), default=_due_key_default)  # due_at, or UNDATED
    customer_key: Mapped[str | None] = mapped_column(String(200), default=_customer_key_default)  # search_key
    # Seconds from entering the step to the deadline (due_at - created_at; None when undated): the breach
    # forecast's rule is slack < the step's median time to closure, a range of ix_task_ready_slack.
    slack_seconds: Mapped[float | None] = mapped_column(Float, default=_slack_default)

    def refresh_facts(self) -> None:
        """Recompute the columns derived from this row (before each flush): created -> completed in seconds."""
        self.duration_seconds = seconds_between(self.created_at, self.completed_at)


def refresh_keys(row: TaskRow) -> None:
    """Recompute the derived keys of a changed row (before its UPDATE: the ORM's, or a Core one that writes it)."""
    changed = inspect(row).attrs
    if changed.due_at.history.has_changes():
        row.due_key = row.due_at or UNDATED
    if changed.due_at.history.has_changes() or changed.created_at.history.has_changes():
        row.slack_seconds = seconds_between(row.created_at, row.due_at)
    if changed.customer_name.history.has_changes():
        row.customer_key = search_key(row.customer_name)


@event.listens_for(TaskRow, "before_update")
def _refresh_keys(_mapper, _connection, row: TaskRow) -> None:
    refresh_keys(row)


# One index per tab and sort of the task list, each giving the rows already in the list's order (see README,
# "Task list benchmark"): "all" filters on state only; "mine" and "group" on state and assignee (NULL for the
# team tab), with the lane last so that the team tab checks it inside the index, for one lane or several.
Index("ix_task_all_due", TaskRow.state, TaskRow.due_key)
Index("ix_task_all_priority", TaskRow.state, TaskRow.priority.desc(), TaskRow.due_key)
Index("ix_task_all_created", TaskRow.state, TaskRow.created_at)
Index("ix_task_holder_due", TaskRow.state, TaskRow.assignee, TaskRow.due_key, TaskRow.lane)
Index("ix_task_holder_priority", TaskRow.state, TaskRow.assignee, TaskRow.priority.desc(), TaskRow.due_key,
      TaskRow.lane)
Index("ix_task_holder_created", TaskRow.state, TaskRow.assignee, TaskRow.created_at, TaskRow.lane)
# Partial indexes of the ready rows only (small, and not touched when a row stops being ready); the task list
# writes state = 'ready' as a literal so that they match (app/services/tasks/task_list.py).
READY = text("state = 'ready'")
# A step filter (with or without a channel): its ready rows found by a range and, both given, already in the
# default order. Without it, at a million cases (135,000 ready rows among 4.4 million), a step and a channel
# matching 1,755 rows took 600 ms, a scan of the table (README, "Cost as the work grows").
Index("ix_task_ready_step", TaskRow.bpmn_id, TaskRow.channel, TaskRow.due_key, postgresql_where=READY,
      sqlite_where=READY)
# The dashboard's backlog and breach forecast: each open case's ready steps and when they were entered, joined
# to ix_case_open_facts by case id inside the two indexes (README, "Cost as the work grows").
Index("ix_task_ready_case", TaskRow.case_id, TaskRow.process_key, TaskRow.bpmn_id, TaskRow.created_at,
      postgresql_where=READY, sqlite_where=READY)
# A part of a customer's name (LIKE '%lefevre%'): on PostgreSQL a trigram index of the ready rows (pg_trgm, made
# by the migration or before create_all), so a rare or absent name no longer reads the whole tab (480 ms at a
# million cases, 135,000 ready rows). SQLite has no trigrams: there it is a plain partial index, unused by the
# search, which scans as before.
# The breach forecast ("À risque", the dashboard's cases at risk): a ready row is at risk when its slack (deadline
# minus entry into the step) is below its step's median time to closure while the deadline is ahead, so per step
# a range of slack with the deadline checked inside the index, rather than every ready row of the deadline's
# horizon joined to its case (399 ms at a million cases; README, "Cost as the work grows").
Index("ix_task_ready_slack", TaskRow.process_key, TaskRow.bpmn_id, TaskRow.slack_seconds, TaskRow.due_key,
      TaskRow.case_id, postgresql_where=READY, sqlite_where=READY)
Index("ix_task_ready_customer", TaskRow.customer_key, postgresql_using="gin",
      postgresql_ops={"customer_key": "gin_trgm_ops"}, postgresql_where=READY, sqlite_where=READY)
event.listen(TaskRow.__table__, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))
