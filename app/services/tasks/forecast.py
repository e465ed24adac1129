"""Breach forecast: an estimated closure date for open cases, from past durations of similar closed cases.

For a case waiting at step S, the estimate is the time S was entered plus the median time, in cases of the same
process, kind and category closed in the last HISTORY_DAYS days, from entering S to closure. With fewer than
MIN_SAMPLES such cases the estimate falls back to the same process and kind, then to the process alone. A case is
at risk when the estimate is later than its answer deadline while the deadline is still ahead.
"""

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, and_, any_, bindparam, case, false, func, literal_column, select, true, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from app import clock
from app.extensions import db
from app.models import Case, TaskRow
from app.models.types import UTCDateTime
from app.services.core.sql_stats import dialect, seconds_between

MIN_SAMPLES = 5
HISTORY_DAYS = 180  # closed cases older than this no longer describe how the process runs
# At most the latest closures of that period: medians as telling, but a cold computation (after each closure)
# that costs the same at a million cases as at fifty thousand (README, "Cost as the work grows").
HISTORY_CASES = 20_000
CACHE_SECONDS = 600
_ASK = object()  # "read the last closure now" (callers that read it with their rows pass it)
_CACHE: dict[tuple, list] = {}
READY = literal_column("'ready'")  # a literal: prepared statements' generic plans then use the partial indexes
_LAST_CLOSED = select(func.max(Case.closed_at))  # the medians' cache key, built once (every task list view)
LEVELS = (("process", "kind", "category", "bpmn_id"), ("process", "kind", "bpmn_id"), ("process", "bpmn_id"))
ANSWERED = ("answered", "resolved", "closed")


@dataclass
class Forecast:
    case_id: int
    reference: str
    due_at: datetime | None
    estimated_at: datetime | None
    step: str | None
    samples: int
    at_risk: bool
    overdue: bool

    def as_json(self) -> dict:
        return {"reference": self.reference, "due_at": _iso(self.due_at), "estimated_at": _iso(self.estimated_at),
                "step": self.step, "samples": self.samples, "at_risk": self.at_risk, "overdue": self.overdue}


def _iso(value):
    return value.isoformat() if value else None


def _medians(now: datetime, last_closed=_ASK) -> list[dict[tuple, tuple[float, int]]]:
    """Per level of LEVELS, {key: (median seconds from entering the step to closure, samples)}.

    One pass over the task rows of recently closed cases (at most HISTORY_CASES of them; every step: the
    dashboard, the task list's markers and its "at risk" filter share one cached result; only four short
    columns and the duration); the three levels
    are grouped here rather than by three window queries over the same rows. The result is cached briefly: it
    changes only when cases close.
    """
    key = _cache_key(now, last_closed)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    recent = (select(Case.id, Case.process_key, Case.kind, Case.category, Case.closed_at)
              .where(Case.closed_at >= now - timedelta(days=HISTORY_DAYS), Case.closed_at <= now)
              .order_by(Case.closed_at.desc()).limit(HISTORY_CASES).subquery())  # a walk down ix_case_closed
    rows = db.session.execute(
        select(recent.c.process_key, recent.c.kind, recent.c.category, TaskRow.bpmn_id,
               seconds_between(TaskRow.created_at, recent.c.closed_at))
        .join(TaskRow, TaskRow.case_id == recent.c.id)
        .where(TaskRow.created_at <= recent.c.closed_at))
    groups: list[dict[tuple, list[float]]] = [{} for _ in LEVELS]
    for process, kind, category, bpmn_id, seconds in rows:
        if seconds is None:
            continue
        values = {"process": process, "kind": kind, "category": category, "bpmn_id": bpmn_id}
        for level, table in zip(LEVELS, groups, strict=True):
            table.setdefault(tuple(values[k] for k in level), []).append(float(seconds))
    result = [{k: (statistics.median(v), len(v)) for k, v in table.items()} for table in groups]
    if len(_CACHE) > 32:
        _CACHE.clear()
    _CACHE[key] = result
    return result




def _cache_key(now: datetime, last_closed=_ASK) -> tuple:
    """Changes whenever a case closes, and every CACHE_SECONDS (one index lookup, or the value a caller read
    with its own rows). The medians come from closed cases only: a new case does not change them, so a busy
    intake desk does not recompute them."""
    if last_closed is _ASK:
        last_closed = db.session.scalar(_LAST_CLOSED)
    return str(db.session.get_bind().url), int(now.timestamp()) // CACHE_SECONDS, last_closed


def estimate(rows, now: datetime, last_closed=_ASK) -> dict[int, Forecast]:
    """Forecasts for rows of (case, ready task) pairs; several ready tasks keep the latest estimate."""
    rows = [tuple(r) for r in rows]  # (case_id, reference, process, kind, category, due_at, status, bpmn_id, created)
    if not rows:
        return {}
    tables = _medians(now, last_closed)
    # Per row, the first level with enough samples: its key picks (process, kind, category, bpmn_id) columns.
    levels = [([("process", "kind", "category", "bpmn_id").index(k) for k in level], table)
              for level, table in zip(LEVELS, tables, strict=True)]
    result: dict[int, Forecast] = {}
    for case_id, reference, process, kind, category, due_at, status, bpmn_id, created_at in rows:
        values = (process, kind, category, bpmn_id)
        estimate, samples = None, 0
        for picks, table in levels:
            found = table.get(tuple(values[i] for i in picks))
            if found and found[1] >= MIN_SAMPLES:
                estimate = max(now, created_at + timedelta(seconds=found[0]))
                samples = found[1]
                break
        answered = status in ANSWERED
        overdue = bool(due_at and due_at < now and not answered)
        at_risk = bool(estimate and due_at and due_at >= now and estimate > due_at and not answered)
        current = result.get(case_id)
        if current is None or (estimate and (current.estimated_at is None or estimate > current.estimated_at)):
            result[case_id] = Forecast(case_id, reference, due_at, estimate, bpmn_id if estimate else None,
                                       samples, at_risk, overdue)
    return result


def last_closed_column():
    """The medians' cache key (the last closure) as a scalar subquery, for a query that reads it with its rows."""
    return _LAST_CLOSED.scalar_subquery().correlate(None)  # never a case row of the enclosing query


def _open_select(*conditions):
    return (select(Case.id.label("case_id"), Case.reference, Case.process_key, Case.kind, Case.category,
                   Case.due_at, Case.status, TaskRow.bpmn_id, TaskRow.created_at)
            .join(TaskRow, TaskRow.case_id == Case.id)
            .where(Case.closed_at.is_(None), TaskRow.state == "ready", *conditions))


def _open_rows(*conditions):
    return db.session.execute(_open_select(*conditions))


# The task list page's query (its 50 cases), built once: the ids are a parameter; the medians' cache key (the
# last closure) comes in the same round trip.
_OPEN_BY_IDS = _open_select(Case.id.in_(bindparam("ids", expanding=True))).add_columns(
    _LAST_CLOSED.scalar_subquery().label("last_closed"))


def forecast_for_cases(case_ids) -> dict[int, Forecast]:
    """Forecasts of the given open cases, by case id (closed or unknown ids are left out)."""
    ids = sorted(case_ids)
    if not ids:
        return {}
    rows = db.session.execute(_OPEN_BY_IDS, {"ids": ids}).all()
    if not rows:
        return {}
    return estimate([r[:-1] for r in rows], clock.now(), rows[0][-1])


def at_risk(conditions: list, now: datetime | None = None, limit: int = 50) -> dict:
    """Open cases matching the conditions whose estimate passes their deadline: count and the nearest deadlines.

    Counted in the database (`risky_case_ids`, the rule and the cached medians of task_at_risk): no open case
    leaves it. Only the `limit` nearest ones are estimated here, for their estimated date, step and samples.
    """
    now = now or clock.now()
    risky, params = _risky(now)
    if risky is None:
        return {"count": 0, "cases": [], "min_samples": MIN_SAMPLES, "history_days": HISTORY_DAYS}
    flagged = db.session.execute(select(Case.id, Case.due_at, Case.reference).where(Case.id.in_(risky), *conditions)
                                 .order_by(Case.due_at, Case.reference), params).all()  # one read: count and nearest
    count, nearest = len(flagged), [r.id for r in flagged[:limit]]
    forecasts = estimate(_open_rows(Case.id.in_(nearest)), now) if nearest else {}
    shown = sorted((f for f in forecasts.values() if f.at_risk), key=lambda f: (f.due_at, f.reference))
    return {"count": count, "cases": [f.as_json() for f in shown],
            "min_samples": MIN_SAMPLES, "history_days": HISTORY_DAYS}


def at_risk_estimated(conditions: list, now: datetime | None = None) -> list[Forecast]:
    """The open cases at risk by estimating each one here (what at_risk counts in SQL), nearest deadline first:
    the reference the SQL rule is checked against (tests), and the way for a handful of cases."""
    now = now or clock.now()
    forecasts = estimate(_open_rows(*conditions, Case.due_at >= now, Case.status.not_in(ANSWERED)), now)
    return sorted((f for f in forecasts.values() if f.at_risk), key=lambda f: (f.due_at, f.reference))


def _seconds(median: float) -> float:
    """A median as estimate adds it (a timedelta: whole microseconds), so that comparing a row's slack with it
    decides exactly as `estimate` does."""
    return timedelta(seconds=median).total_seconds()


def _usable(tables):
    """(level's values by name, median in seconds) of every key of every level with MIN_SAMPLES closed cases, level
    by level (the most specific first)."""
    for level, table in zip(LEVELS, tables, strict=True):
        for key, (median, samples) in table.items():
            if samples >= MIN_SAMPLES:
                yield dict(zip(level, key, strict=True)), _seconds(median)


def _threshold(tables, task, case_row):
    """SQL: the median seconds from entering the task's step to closure, by the first level with enough samples.

    Nested CASE: first on (process, step), then on kind and category, so a row meets a handful of comparisons
    rather than one per known key. NULL where no level has MIN_SAMPLES closed cases (no estimate).
    """
    groups: dict[tuple, list] = {}
    for values, median in _usable(tables):
        groups.setdefault((values["process"], values["bpmn_id"]), []).append((values, median))
    if not groups:
        return None
    columns = {"kind": case_row.kind, "category": case_row.category}

    def same(column, value):
        return column.is_(None) if value is None else column == value

    outer = []
    for (process, bpmn_id), entries in groups.items():
        # Entries come level by level, so the most specific key with enough samples wins, as in estimate.
        inner = [(and_(true(), *[same(columns[k], v[k]) for k in ("kind", "category") if k in v]), median)
                 for v, median in entries]
        outer.append((and_(case_row.process_key == process, task.bpmn_id == bpmn_id), case(*inner)))
    return case(*outer)


def _slack_candidates(tables, now):
    """SQL (a subquery of case_id, bpmn_id, slack_seconds, due_key), or None when no median has MIN_SAMPLES
    closed cases: per (process, step) with a median, the ready rows whose slack is below the step's longest
    median and whose deadline is ahead of `now` (a bind parameter). One range of ix_task_ready_slack each, read
    inside the index, glued by UNION ALL (an OR of the ranges makes PostgreSQL read the whole index). Implied by
    the rule (a row at risk has a slack below its own median, which is at most its step's longest): it changes
    no result, it only leaves few rows for the exact rule."""
    longest: dict[tuple, float] = {}
    for values, median in _usable(tables):
        step = (values["process"], values["bpmn_id"])
        longest[step] = max(median, longest.get(step, median))
    if not longest:
        return None
    parts = [select(TaskRow.case_id, TaskRow.bpmn_id, TaskRow.slack_seconds, TaskRow.due_key)
             .where(TaskRow.state == READY, TaskRow.process_key == process, TaskRow.bpmn_id == bpmn_id,
                    TaskRow.slack_seconds < median, TaskRow.due_key >= now)
             for (process, bpmn_id), median in sorted(longest.items())]
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("slack")


def _risky_statement(tables):
    """SQL: the ids of the open cases at risk at the instant bound as `risk_now` (one uncorrelated set), or None
    when no median has MIN_SAMPLES closed cases (nobody is at risk). Built once per set of medians (risky_ids).

    A case is at risk when one of its ready tasks entered its step at t with t + median > deadline >= now (and it
    is not answered yet): with several ready tasks, estimate keeps the latest estimate, which passes the
    deadline exactly when one of them does. The rule reads deadline - t < median, and deadline - t is kept on
    the row (task.slack_seconds; cases._sync_tasks keeps a ready row's deadline equal to its case's): the rows
    whose slack is below their step's longest median and whose deadline is ahead come from ix_task_ready_slack
    (_slack_candidates), and only they meet their case, where the exact rule is checked (open, not answered,
    deadline ahead, slack below the median of the case's kind and category). Before, every ready row of an open
    case with a deadline in the horizon was joined and checked: 40,000 of them at a million cases (README,
    "Cost as the work grows").
    """
    now = _NOW
    found = _slack_candidates(tables, now)
    if found is None:
        return None
    case_row = aliased(Case)
    # The case's part of the rule as a correlated scalar subquery: both databases then probe each candidate's
    # case by its key. As a join, PostgreSQL hashed every open case due ahead instead: open and not answered
    # are two correlated conditions, and it expected 31 such cases where 4,063 came at 100,000 cases. The probe
    # gives the row's deadline too (the case's, as the candidates' range already takes it): PostgreSQL then
    # finds the case in ix_case_open_facts (deadline, id, status, kind, category…) without reading its row,
    # 3 µs a candidate instead of 8 (3,351 candidates at a million cases, 1,225 of them at risk).
    case_at_risk = (select(case_row.id).where(case_row.due_at == found.c.due_key, case_row.id == found.c.case_id,
                                              case_row.closed_at.is_(None),
                                              case_row.status.not_in(ANSWERED), case_row.due_at >= now,
                                              found.c.slack_seconds < _threshold(tables, found.c, case_row))
                    .scalar_subquery())
    return select(found.c.case_id).where(case_at_risk.is_not(None))


_NOW = bindparam("risk_now", type_=UTCDateTime())
_RISKY: tuple = (None, None)  # (the medians it was built from, the statement), replaced whole (threads)


def _risky(now: datetime):
    """(statement or None, its parameters) of the cases at risk at `now`: the statement is built once per set of
    cached medians (its nested CASE holds them; building it and its cache key took 11–15 ms a view)."""
    global _RISKY
    tables = _medians(now)
    built_for, statement = _RISKY
    if built_for is not tables:
        statement = _risky_statement(tables)
        _RISKY = (tables, statement)
    return statement, {"risk_now": now}


def risky_case_ids(now: datetime):
    """SQL: the ids of the open cases at risk at `now` (a select, `now` bound), or None when no median has
    MIN_SAMPLES closed cases (nobody is at risk). See _risky_statement."""
    statement, params = _risky(now)
    return None if statement is None else statement.params(params)


def risky_ids(now: datetime) -> list[int]:
    """The ids of the open cases at risk at `now`, ascending (one statement, prebuilt per set of medians)."""
    statement, params = _risky(now)
    return [] if statement is None else sorted(set(db.session.scalars(statement, params)))


def task_at_risk(now: datetime | None = None):
    """SQL condition on TaskRow: the row's case is at risk, by the same rule and medians as forecast_for_cases.

    Evaluated in the database from the cached medians (no workflow is loaded): the ids of the cases at risk
    (`risky_case_ids`) are read once, here, and the condition matches the ready rows of those cases by case id
    (ix_task_ready_case). A filtered task list page runs up to four statements with the condition (the sample of
    ids, the capped counts of other tabs, the page's walk): with the set as a subquery each of them found it
    again, 100 ms each at a million cases (README, "Cost as the work grows").
    """
    now = now or clock.now()
    ids = risky_ids(now)
    if not ids:
        return false()
    if dialect() == "postgresql":  # one array parameter, not a placeholder per id (1,225 at a million cases)
        return TaskRow.case_id == any_(bindparam("risky_ids", ids, type_=ARRAY(Integer)))
    return TaskRow.case_id.in_(ids)
