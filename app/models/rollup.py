"""Daily indicator figures per combination of the filter columns, kept by the transactions that change cases.

Days and months are Europe/Paris calendar days and months (revision h16c_paris_days moved them from UTC).

One row per (basis, period, day, process, channel, origin, kind, category, department, version, root cause,
path, cause, user task, duration bucket); the columns that do not apply to a basis are NULL. Bases: `received`
(cases received that day), `closed` (cases closed that day), `answered` (cases whose latest answer letter went
out that day), `cause` (cases received that day by category and root cause key only, for CAPA recurrence),
`step` (tasks completed that day, by process, user task and duration bucket only: the histogram of the step's
durations) and `closing` (cases closed that day with a processing time, by process and duration bucket only:
the histogram of processing times). Every figure is in a `day` row and in a `month` row (day = the 1st of the
month): whole months of a period are read from the few month rows, its partial months from day rows.
Maintained by app/services/core/rollup.py; `flask --app app indicators rebuild` recomputes it from the cases.
"""

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class CaseRollup(db.Model):
    __tablename__ = "case_rollup"
    __table_args__ = (
        Index("ix_rollup_basis_period_day", "basis", "period", "day"),
        Index("ix_rollup_cause", "basis", "period", "category", "cause_key", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the key columns: the upsert target (root causes and paths are free-length text).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    basis: Mapped[str] = mapped_column(String(10))
    period: Mapped[str] = mapped_column(String(5))  # day | month
    day: Mapped[date] = mapped_column(Date)
    process_key: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(40))
    origin: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str | None] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(60))
    department: Mapped[str | None] = mapped_column(String(60))
    definition_id: Mapped[int | None] = mapped_column(Integer)  # closed
    root_cause: Mapped[str | None] = mapped_column(Text)  # received
    path: Mapped[str | None] = mapped_column(Text)  # closed: user tasks completed before closure, ">"-joined
    cause_key: Mapped[str | None] = mapped_column(String(64))  # cause: case_record.root_cause_key
    bpmn_id: Mapped[str | None] = mapped_column(String(200))  # step: the user task
    # step: the bucket of the tasks' durations (sql_stats.duration_bucket): a step's rows are its histogram.
    duration_bucket: Mapped[int | None] = mapped_column(Integer)

    cases: Mapped[int] = mapped_column(Integer, default=0)
    # received: how many are closed, their received -> closed seconds, and the received times (epoch seconds) of
    # the others, so that an average duration "until closed or now" needs no case row.
    closed: Mapped[int] = mapped_column(Integer, default=0)
    closed_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    open_received: Mapped[int] = mapped_column(BigInteger, default=0)
    blocked: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    credited: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    # closed: with a processing time, sent a survey, with a score, and the sum of the scores.
    timed: Mapped[int] = mapped_column(Integer, default=0)
    surveys: Mapped[int] = mapped_column(Integer, default=0)
    scored: Mapped[int] = mapped_column(Integer, default=0)
    score_sum: Mapped[int] = mapped_column(Integer, default=0)
    # answered: answered by the due date.
    on_time: Mapped[int] = mapped_column(Integer, default=0)
