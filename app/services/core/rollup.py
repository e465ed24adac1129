"""Indicator facts kept by the transactions that change cases: the daily rollup, task copies, durations.

Every commit of the application's session runs `before_commit` below, whatever code changed the cases (engine
steps, public intake, migrations, hand-made test data): the cases touched in the transaction are read before
their first change and again at commit, and the difference of what they contribute to `case_rollup` is added
to it, in the same transaction. So the indicators never drift from the cases, and a rolled-back step changes
nothing. Also kept here, on the same occasions:

- `task.duration_seconds` (created -> completed) and `case_record.processing_seconds` (received -> closed);
- the task rows' copies of their case's filter columns (channel, origin, kind, category, department), so that
  step durations can be filtered inside one index.

Counters are added in the order of their key hashes and last in the transaction: two transactions touching the
same rows wait for each other, never deadlock. A case's contribution before and after the transaction is read
from the objects the session already holds when they are known to equal the database (read under the case
lock, or inserted by the transaction), from the database otherwise.

Why one module over 400 lines: what a case contributes, the two ways of reading it (database, session
objects), the hooks that take the differences and the rebuild that recomputes everything are one definition;
split, each part would reach into the others' internals. Bulk inserts that bypass the ORM (the volume demo) call
`rebuild()`, which recomputes everything from the cases and their task rows and audit events.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, delete, inspect, or_, select, update
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.util import identity_key

from app.extensions import db
from app.models import AuditEvent, Case, CaseRollup, TaskRow
from app.models.case import cause_key
from app.models.types import seconds_between
from app.services.core.calendar import paris_day
from app.services.core.sql_stats import duration_bucket
from app.vocabulary import PARIS

DIMS = ("process_key", "channel", "origin", "kind", "category", "department")
TASK_DIMS = DIMS[1:]
KEY = ("basis", "period", "day", *DIMS, "definition_id", "root_cause", "path", "cause_key", "bpmn_id",
       "duration_bucket")
KEY_BEFORE_DURATIONS = KEY[:-1]  # the key before h21d_step_durations (its downgrade recomputes those rows)
MEASURES = ("cases", "closed", "closed_seconds", "open_received", "blocked", "credited", "timed", "surveys",
            "scored", "score_sum", "on_time")
ANSWER_TEMPLATES = ("response", "rejection")  # letters that answer the complainant (acceptance or refusal)
SURVEY_TEMPLATE = "survey"
ANSWERED_STATUSES = ("answered", "resolved", "closed")  # after these the answer deadline no longer runs
PATH_SEPARATOR = ">"

_COLUMNS = (Case.id, Case.status, Case.definition_id, *(getattr(Case, d) for d in DIMS), Case.root_cause,
            Case.root_cause_key,
            Case.received_at, Case.closed_at, Case.due_at, Case.answered_at, Case.survey_sent_at,
            Case.blocked_amount, Case.credited_amount, Case.satisfaction_score, Case.processing_seconds)


# --- what one case contributes ----------------------------------------------------------------------------



def _epoch(moment: datetime) -> int:
    return round(moment.timestamp())


def _accumulate(totals: dict[tuple, dict], contributions: dict[tuple, dict], sign: int = 1) -> None:
    for key, measures in contributions.items():
        total = totals.setdefault(key, dict.fromkeys(MEASURES, 0))
        for name, value in measures.items():
            total[name] += sign * value


def contribution(row, path: str | None, zone=PARIS) -> dict[tuple, dict]:
    """The rollup rows a case adds to, {key: measures}, from its columns (any object with the _COLUMNS names).

    Each figure is counted twice: in its day's row and in its month's row (period "month", day = the 1st), so
    that a long period reads whole months from a few month rows and only its partial months day by day. Days and
    months are Paris calendar days and months (`zone`: only the migration back to UTC buckets passes another).
    """
    out = {}
    for (basis, day, *rest), measures in _by_day(row, path, zone).items():
        out[(basis, "day", day, *rest)] = measures
        out[(basis, "month", day.replace(day=1), *rest)] = measures
    return out


def _by_day(row, path: str | None, zone) -> dict[tuple, dict]:
    def _day(moment: datetime) -> date:
        return paris_day(moment, zone)

    dims = tuple(getattr(row, d) for d in DIMS)
    out = {}
    if row.received_at is not None and row.root_cause_key:
        out[("cause", _day(row.received_at), row.process_key, None, None, None, row.category, None, None, None, None,
             row.root_cause_key, None, None)] = {"cases": 1}
    if row.received_at is not None:
        closed = row.closed_at is not None
        out[("received", _day(row.received_at), *dims, None, row.root_cause or None, None, None, None, None)] = {
            "cases": 1, "closed": int(closed),
            "closed_seconds": _epoch(row.closed_at) - _epoch(row.received_at) if closed else 0,
            "open_received": 0 if closed else _epoch(row.received_at),
            "blocked": row.blocked_amount or Decimal(0), "credited": row.credited_amount or Decimal(0)}
    if row.closed_at is not None:
        score = row.satisfaction_score
        out[("closed", _day(row.closed_at), *dims, row.definition_id, None, path, None, None, None)] = {
            "cases": 1, "timed": int(row.received_at is not None), "surveys": int(row.survey_sent_at is not None),
            "scored": int(score is not None), "score_sum": score or 0}
        if row.processing_seconds is not None:  # the histogram of processing times, by process only
            out[("closing", _day(row.closed_at), row.process_key, None, None, None, None, None, None, None, None,
                 None, None, duration_bucket(row.processing_seconds))] = {"cases": 1}
    if row.answered_at is not None and row.due_at is not None and row.status in ANSWERED_STATUSES:
        out[("answered", _day(row.answered_at), *dims, None, None, None, None, None, None)] = {
            "cases": 1, "on_time": int(row.answered_at <= row.due_at)}
    return out


def task_contribution(row, zone=PARIS) -> dict[tuple, dict]:
    """A completed task adds one to its step's `step` rows (day and month of completion; no filter columns:
    the unfiltered dashboard counts its steps there, filtered ones count in the task index), in the bucket of its
    duration (sql_stats.duration_bucket): the rows of a step are the histogram its percentiles are found from."""
    if row.state != "completed" or row.completed_at is None:
        return {}
    day = paris_day(row.completed_at, zone)
    tail = (row.process_key, None, None, None, None, None, None, None, None, None, row.bpmn_id,
            duration_bucket(row.duration_seconds))
    return {("step", "day", day, *tail): {"cases": 1}, ("step", "month", day.replace(day=1), *tail): {"cases": 1}}


_TASK_COLUMNS = (TaskRow.id, TaskRow.state, TaskRow.completed_at, TaskRow.process_key, TaskRow.bpmn_id,
                 TaskRow.duration_seconds)


def _task_snapshots(session, ids) -> dict[str, tuple]:
    ids = sorted(ids)
    out = {}
    for start in range(0, len(ids), 500):
        for r in session.execute(select(*_TASK_COLUMNS).where(TaskRow.id.in_(ids[start:start + 500]))):
            out[r.id] = task_contribution(r)
    return out


def key_hash(key: tuple) -> str:
    text = json.dumps([v.isoformat() if isinstance(v, date) else v for v in key], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_PATH_TASKS = (select(TaskRow.case_id, TaskRow.bpmn_id, TaskRow.created_at)
               .where(TaskRow.case_id.in_(bindparam("case_ids", expanding=True)), TaskRow.state == "completed")
               .order_by(TaskRow.case_id, TaskRow.created_at, TaskRow.completed_at, TaskRow.bpmn_id))  # built once


def _paths(session, rows) -> dict[int, str | None]:
    """For closed cases: the user tasks completed before closure, in order, ">"-joined."""
    closed = {r.id: r.closed_at for r in rows if r.closed_at is not None}
    if not closed:
        return {}
    tasks = session.execute(_PATH_TASKS, {"case_ids": list(closed)})
    steps: dict[int, list[str]] = defaultdict(list)
    for case_id, bpmn_id, created_at in tasks:
        if created_at < closed[case_id]:
            steps[case_id].append(bpmn_id)
    return {case_id: PATH_SEPARATOR.join(steps[case_id]) or None for case_id in closed}


def _snapshots(session, ids, zone=PARIS) -> dict[int, tuple]:
    """{case id: (column row, contribution)} read from the database now (session or connection)."""
    ids = sorted(ids)
    out = {}
    for start in range(0, len(ids), 500):
        rows = list(session.execute(select(*_COLUMNS).where(Case.id.in_(ids[start:start + 500]))))
        paths = _paths(session, rows)
        for r in rows:
            out[r.id] = (r, contribution(r, paths.get(r.id), zone))
    return out


# Snapshots without a query: a case or task row object read under its case's lock (case_lock), or inserted by
# the transaction, holds what the database holds until the transaction ends (nobody else may change it
# meanwhile), so its snapshot columns are read from the object: before its first change (`read_fresh`) and at
# commit, once flushed. Any other object is read from the database, as above.
_CASE_KEYS = tuple(c.key for c in _COLUMNS)
_TASK_KEYS = tuple(c.key for c in _TASK_COLUMNS)


class _Row:
    """A frozen copy of an object's snapshot columns (the object itself changes afterwards)."""

    def __init__(self, obj, keys):
        self.__dict__.update({k: getattr(obj, k) for k in keys})


def _held(session) -> dict:
    return session.info.get("case_locks") or {}


def _in_step(obj) -> bool:
    """Persistent with no pending change: its loaded values are the database's (unloaded ones load as usual)."""
    state = inspect(obj)
    return state.persistent and not state.modified


def _session_snapshots(session, ids, new_ids: set) -> dict[int, tuple]:
    """As _snapshots, from the objects of the cases locked or inserted by the transaction, once flushed."""
    rows, missing, held = [], [], _held(session)
    for case_id in ids:
        obj = session.identity_map.get(identity_key(Case, case_id)) if case_id in held or case_id in new_ids \
            else None
        if obj is not None and _in_step(obj):
            rows.append(_Row(obj, _CASE_KEYS))
        else:
            missing.append(case_id)
    out = _snapshots(session, missing) if missing else {}
    paths = _paths(session, rows)
    for r in rows:
        out[r.id] = (r, contribution(r, paths.get(r.id)))
    return out


def _session_task_snapshots(session, ids, new_ids: set) -> dict[str, dict]:
    """As _task_snapshots, from the task row objects of locked cases or inserted by the transaction."""
    out, missing, held = {}, [], _held(session)
    for task_id in ids:
        obj = session.identity_map.get(identity_key(TaskRow, task_id))
        if obj is not None and (task_id in new_ids or obj.case_id in held) and _in_step(obj):
            out[task_id] = task_contribution(obj)
        else:
            missing.append(task_id)
    if missing:
        out.update(_task_snapshots(session, missing))
    return out


def read_fresh(session, obj) -> None:
    """Note what a case or task row just read under its case's lock (case_lock) contributes, so that the first
    flush changing it need not query what it was before."""
    if not _in_step(obj):
        return
    state = _state(session)
    state.setdefault("kept", []).append(obj)  # alive until the commit, so that its snapshot then needs no query
    # An object inserted earlier in this transaction (a case created, then locked to start its workflow) had
    # nothing before it: what the lock reads back is the transaction's own insert.
    if any(n is obj for n in (state["new"] if isinstance(obj, Case) else state["task_new"])):
        return
    if isinstance(obj, Case):
        if obj.id not in state["before"]:
            row = _Row(obj, _CASE_KEYS)
            with session.no_autoflush:
                path = _paths(session, [row]).get(row.id)
            state["before"][obj.id] = (row, contribution(row, path))
    elif obj.id not in state["task_before"]:
        state["task_before"][obj.id] = task_contribution(obj)


def core_write(session, obj) -> bool:
    """Before a case or task row object is written by a Core statement instead of the flush (core/step_writes):
    what before_flush does for it (its derived facts, a new task row's copies of its case's filter columns, what it
    contributed before). False when what it or its case contributed before is not known without a query (not read
    under the case's lock, or a case created by this transaction): the caller leaves that object to the flush."""
    state = _state(session)
    if isinstance(obj, Case):
        if obj.id not in state["before"]:
            return False
        obj.refresh_facts()
        return True
    if obj.case_id not in state["before"]:
        return False
    if inspect(obj).pending:
        obj.refresh_facts()
        state["task_new"].append(obj)
        _copy_dims(session, obj, state)
        return True
    if obj.id not in state["task_before"]:
        return False
    obj.refresh_facts()
    return True


def message_sent(case: Case, template: str, at: datetime) -> None:
    """Record on the case the facts a letter gives the indicators: answered (deadline share), survey sent."""
    if template in ANSWER_TEMPLATES:
        case.answered_at = at
    elif template == SURVEY_TEMPLATE:
        case.survey_sent_at = at


def period_ranges(start: date, end: date, by_day: bool = False) -> list[tuple[str, date, date]]:
    """The rollup rows covering the days start..end once: [(period, first day, stop day excluded)]."""
    first = start if start.day == 1 else _next_month(start)
    stop = (end + timedelta(days=1)).replace(day=1)  # months before it end within the period
    if by_day or first >= stop:
        ranges = [("day", start, end + timedelta(days=1))]
    else:
        ranges = [("month", first, stop), ("day", start, first), ("day", stop, end + timedelta(days=1))]
    return [r for r in ranges if r[1] < r[2]]


def _next_month(d: date) -> date:
    return (d.replace(day=1) + timedelta(days=32)).replace(day=1)


# --- session hooks ----------------------------------------------------------------------------------------

def _state(session) -> dict:
    return session.info.setdefault("rollup", {"before": {}, "new": [], "task_before": {}, "task_new": [],
                                              "unsynced": set()})


def before_flush(session, flush_context, instances) -> None:
    """Durations on changed rows, new task rows' copies of their case's filter columns; for each case and task
    row about to change, its contribution before the transaction."""
    state = _state(session)
    capture, task_capture = set(), set()
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, TaskRow):
            obj.refresh_facts()
            if obj.case_id is not None:
                capture.add(obj.case_id)
            if obj in session.new:
                state["task_new"].append(obj)
                _copy_dims(session, obj, state)
            elif obj.id not in state["task_before"]:
                task_capture.add(obj.id)
        elif isinstance(obj, Case):
            obj.refresh_facts()
            if obj.id is None:
                state["new"].append(obj)
            else:
                capture.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Case | TaskRow):
            capture.add(obj.id if isinstance(obj, Case) else obj.case_id)
        if isinstance(obj, TaskRow) and obj.id not in state["task_before"]:
            task_capture.add(obj.id)
    task_capture -= {obj.id for obj in state["task_new"]}
    if task_capture:
        with session.no_autoflush:
            found = _task_snapshots(session, task_capture)
        for task_id in task_capture:
            state["task_before"][task_id] = found.get(task_id, {})
    capture -= set(state["before"]) | {obj.id for obj in state["new"]}  # cases created in it had nothing before
    if capture:
        with session.no_autoflush:
            found = _snapshots(session, capture)
        for case_id in capture:
            state["before"][case_id] = found.get(case_id)


def before_commit(session) -> None:
    """Add the touched cases' change of contribution to the rollup, in the committing transaction."""
    if session.in_nested_transaction():
        return
    session.flush()  # runs before_flush for what is still pending
    state = session.info.pop("rollup", None)
    if state is None:
        return
    ids = set(state["before"]) | {obj.id for obj in state["new"] if obj.id is not None}
    task_ids = set(state["task_before"]) | {obj.id for obj in state["task_new"] if obj.id is not None}
    if not ids and not task_ids:
        return
    after = _session_snapshots(session, ids, {obj.id for obj in state["new"]})
    deltas: dict[tuple, dict] = {}
    tasks_after = _session_task_snapshots(session, task_ids, {obj.id for obj in state["task_new"]}) \
        if task_ids else {}
    for task_id in task_ids:
        _accumulate(deltas, state["task_before"].get(task_id, {}), -1)
        _accumulate(deltas, tasks_after.get(task_id, {}))
    for case_id in ids:
        old, new = state["before"].get(case_id), after.get(case_id)
        _accumulate(deltas, old[1] if old else {}, -1)
        _accumulate(deltas, new[1] if new else {})
        if new is not None and (old is None or _dims(old[0]) != _dims(new[0])):
            _sync_task_dims(session, new[0])  # a new case, or its filter columns changed: all its task rows
    if state["unsynced"]:  # new task rows whose case was not at hand at flush time
        for row in session.execute(select(Case.id, *(getattr(Case, d) for d in TASK_DIMS)).where(
                Case.id.in_({case_id for case_id, _ in state["unsynced"]}))):
            _sync_task_dims(session, row, [t for c, t in state["unsynced"] if c == row.id])
    _add(session, deltas)


def clear(session, *args) -> None:
    session.info.pop("rollup", None)


def _dims(row) -> tuple:
    return tuple(getattr(row, d) for d in TASK_DIMS)


def _copy_dims(session, task: TaskRow, state: dict) -> None:
    """Give a new task row its case's filter columns from the case object at hand (no query); when the case is
    not in the session, its columns are copied by one UPDATE at commit."""
    case = session.identity_map.get(identity_key(Case, task.case_id)) if task.case_id is not None else None
    if case is None:
        state["unsynced"].add((task.case_id, task.id))
        return
    for d in TASK_DIMS:
        setattr(task, d, getattr(case, d))


def _dims_update(which):
    """The UPDATE giving task rows their case's filter columns where they differ, built once (bound values)."""
    table = TaskRow.__table__
    return (update(table).where(which, or_(*(table.c[d].is_distinct_from(bindparam(f"v_{d}")) for d in TASK_DIMS)))
            .values({d: bindparam(f"v_{d}") for d in TASK_DIMS}))


_DIMS_BY_CASE = _dims_update(TaskRow.__table__.c.case_id == bindparam("of_case"))
_DIMS_BY_ID = _dims_update(TaskRow.__table__.c.id.in_(bindparam("of_tasks", expanding=True)))


def _sync_task_dims(session, row, task_ids: list[str] | None = None) -> None:
    values = {f"v_{d}": getattr(row, d) for d in TASK_DIMS}
    if task_ids is None:
        session.execute(_DIMS_BY_CASE, {**values, "of_case": row.id})
    else:
        session.execute(_DIMS_BY_ID, {**values, "of_tasks": list(task_ids)})


_UPSERTS: dict[str, object] = {}


def _upsert(dialect: str):
    """The rollup upsert, built once per dialect: each delta row is bound as parameters (one cached statement)."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        table = CaseRollup.__table__
        base = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        stmt = _UPSERTS[dialect] = base.on_conflict_do_update(
            index_elements=[table.c.key_hash], set_={name: table.c[name] + base.excluded[name] for name in MEASURES})
    return stmt


def _add(session, deltas: dict[tuple, dict]) -> None:
    """Upsert the non-zero deltas, in key hash order (one statement, executed for each row in that order)."""
    rows = [{"key_hash": key_hash(key), **dict(zip(KEY, key, strict=True)), **measures}
            for key, measures in deltas.items() if any(measures.values())]
    if rows:
        rows.sort(key=lambda r: r["key_hash"])
        session.execute(_upsert(session.get_bind().dialect.name), rows)


# --- rebuild ----------------------------------------------------------------------------------------------

def rebuild(facts: bool = True) -> int:
    """Recompute the rollup, in the current transaction; return its number of rows.

    With `facts`, first the facts it is computed from: each case's latest answer letter and survey from the
    audit log, durations and the task rows' filter columns from the cases and their task rows.
    """
    session = db.session
    session.flush()
    if facts:
        _rebuild_facts(session)
    count = recompute(session)
    session.info.pop("rollup", None)  # what was just recomputed must not be added again at commit
    return count


def recompute(conn, zone=PARIS, durations: bool = True) -> int:
    """Replace every rollup row by a recomputation from the cases and their task rows, bucketed by the calendar
    days of `zone`; return the number of rows. `conn` is a session or a connection (a migration passes its own).
    Without `durations`: the rows as kept before revision h21d_step_durations (no duration_bucket column; the
    migrations before it and its downgrade)."""
    totals: dict[tuple, dict] = {}
    ids = list(conn.execute(select(Case.id).order_by(Case.id)).scalars())
    for start in range(0, len(ids), 2000):
        for _, contrib in _snapshots(conn, ids[start:start + 2000], zone).values():
            _accumulate(totals, contrib)
    for task in conn.execute(select(*_TASK_COLUMNS).where(TaskRow.state == "completed")):
        _accumulate(totals, task_contribution(task, zone))
    if durations:
        rows = [{"key_hash": key_hash(k), **dict(zip(KEY, k, strict=True)), **m} for k, m in totals.items()]
    else:  # a step's buckets merged, as one row per step and day, the key hashed without the bucket; no closing
        merged: dict[tuple, dict] = {}
        for k, m in totals.items():
            if k[0] != "closing":
                _accumulate(merged, {k[:-1]: m})
        rows = [{"key_hash": key_hash(k), **dict(zip(KEY_BEFORE_DURATIONS, k, strict=True)), **m}
                for k, m in merged.items()]
    table = CaseRollup.__table__
    if not durations:
        table = sa_table(table.name, *(sa_column(c.name, c.type) for c in table.columns if c.name != "duration_bucket"))
    conn.execute(delete(table))
    for start in range(0, len(rows), 2000):
        conn.execute(table.insert(), rows[start:start + 2000])
    return len(rows)


def _rebuild_facts(session) -> None:
    for column, templates in ((Case.answered_at, ANSWER_TEMPLATES), (Case.survey_sent_at, (SURVEY_TEMPLATE,))):
        latest = (select(AuditEvent.at).where(AuditEvent.case_id == Case.id, AuditEvent.type == "message_sent",
                                              AuditEvent.sealed["template"].as_string().in_(templates))
                  .order_by(AuditEvent.seq.desc()).limit(1).scalar_subquery())
        session.execute(update(Case).values({column: latest}).execution_options(synchronize_session=False))
    cases = session.execute(select(Case.id, Case.received_at, Case.closed_at, Case.root_cause)).all()
    _by_id(session, Case, "processing_seconds", [(c.id, seconds_between(c.received_at, c.closed_at)) for c in cases])
    _by_id(session, Case, "root_cause_key", [(c.id, cause_key(c.root_cause)) for c in cases])
    session.execute(update(TaskRow).values({d: select(getattr(Case, d)).where(Case.id == TaskRow.case_id)
                                            .scalar_subquery() for d in TASK_DIMS})
                    .execution_options(synchronize_session=False))
    tasks = session.execute(select(TaskRow.id, TaskRow.created_at, TaskRow.completed_at)).all()
    _by_id(session, TaskRow, "duration_seconds", [(t.id, seconds_between(t.created_at, t.completed_at)) for t in tasks])


def _by_id(session, model, column: str, values: list[tuple]) -> None:
    """Set one column of many rows by primary key (executemany)."""
    table = model.__table__
    stmt = update(table).where(table.c.id == bindparam("row_id")).values({column: bindparam("row_value")})
    for start in range(0, len(values), 5000):
        session.execute(stmt, [{"row_id": i, "row_value": v} for i, v in values[start:start + 5000]])
