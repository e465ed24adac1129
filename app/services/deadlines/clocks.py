"""Deadline clocks: rules read from BPMN properties, the case_clock table, pauses while waiting for the complainant.

Handlers ask for clock changes through the step context; `after_step` applies them in the step's transaction,
before the workflow is saved, because pausing and resuming a clock also holds and shifts its BPMN timers.
See docs/modelling.md, "Deadlines and clocks".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select

from app import clock
from app.extensions import db
from app.models import Case, CaseClock, TaskRow
from app.services.core import audit
from app.services.messaging import notifications

# --- the table ------------------------------------------------------------------------------------------

_OPEN = (select(CaseClock).where(CaseClock.case_id == bindparam("case_id"), CaseClock.stopped_at.is_(None))
         .order_by(CaseClock.id))  # built once: the case id bound


def open_clocks(case: Case) -> list[CaseClock]:
    """The case's running clocks, as this transaction has them: read without a flush (the step's case and task
    rows are written once, at its end), the session's own changes applied here instead: a clock stopped in this
    transaction is left out, one started and not written yet is counted (after the stored ones, in order)."""
    session = db.session
    with session.no_autoflush:
        rows = [r for r in session.scalars(_OPEN, {"case_id": case.id}) if r.stopped_at is None]
    rows.extend(obj for obj in session.new
                if isinstance(obj, CaseClock) and obj.case_id == case.id and obj.stopped_at is None)
    return rows


def for_case(case_id: int) -> list[CaseClock]:
    """Every clock run of a case, oldest first."""
    return list(db.session.scalars(select(CaseClock).where(CaseClock.case_id == case_id).order_by(CaseClock.id)))


def _stop(case: Case, row: CaseClock, at: datetime, actor: str, workflow, result, bpmn_id=None) -> None:
    if row.paused_at is not None:
        _resume(case, row, at, actor, workflow, result)
    row.stopped_at = at
    row.outcome = "met" if at <= row.due_at else "breached"
    audit.record(case, actor, "clock_stopped", bpmn_id=bpmn_id, data={
        "clock": row.name, "due_at": row.due_at.isoformat(), "outcome": row.outcome,
        "paused_seconds": row.paused_seconds})


def _start(case: Case, values: dict, actor: str, bpmn_id: str, workflow, result) -> CaseClock:
    now = clock.now()
    for row in open_clocks(case):
        if row.name == values["name"]:  # restarted (e.g. a re-examination): the previous run ends here
            _stop(case, row, now, actor, workflow, result, bpmn_id)
    row = CaseClock(case_id=case.id, name=values["name"], variable=values.get("variable"),
                    remind_variable=values.get("remind_variable"), days=values["days"],
                    calendar=values["calendar"], started_at=values["started_at"], due_at=values["due_at"],
                    paused_seconds=0, bpmn_id=bpmn_id)
    db.session.add(row)
    audit.record(case, actor, "clock_started", bpmn_id=bpmn_id, data={
        "clock": row.name, "days": row.days, "calendar": row.calendar,
        "started_at": row.started_at.isoformat(), "due_at": row.due_at.isoformat()})
    if values.get("stopped"):
        _stop(case, row, now, actor, workflow, result, bpmn_id)
    return row


def _variables(row: CaseClock) -> set[str]:
    return {v for v in (row.variable, row.remind_variable) if v}


def _pause(case: Case, row: CaseClock, at: datetime, actor: str, workflow, bpmn_id: str | None) -> None:
    row.paused_at = at
    held = workflow.hold_timers(_variables(row))
    audit.record(case, actor, "clock_paused", bpmn_id=bpmn_id, data={
        "clock": row.name, "timers": held, "variables": sorted(_variables(row))})


def _resume(case: Case, row: CaseClock, at: datetime, actor: str, workflow, result) -> None:
    delta = max(at - row.paused_at, timedelta(0))
    delta = timedelta(seconds=int(delta.total_seconds()))  # whole seconds: the table counts seconds
    row.paused_seconds = (row.paused_seconds or 0) + int(delta.total_seconds())
    row.paused_at = None
    row.due_at = row.due_at + delta
    updates = {}
    for variable in _variables(row):
        value = result.data.get(variable)
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            updates[variable] = (moment + delta).astimezone(UTC).isoformat()
    if updates:
        workflow.update_data(updates)
        result.data.update(updates)
    released = workflow.release_timers(_variables(row), delta)
    audit.record(case, actor, "clock_resumed", data={
        "clock": row.name, "paused_seconds": int(delta.total_seconds()), "due_at": row.due_at.isoformat(),
        "timers": released, "variables": sorted(_variables(row)), "updates": updates})


# --- after every engine step -----------------------------------------------------------------------------

def after_step(case: Case, workflow, result, context, actor: str, existing: set[str] | None = None) -> None:
    """Apply the step's clock and notification requests, then pause or resume clocks from the ready tasks.

    `existing`: the ids of the case's task rows still ready before this step's new ones (read here if None)."""
    mine = [e for e in context.effects if e[0] in ("clock", "notify")]
    context.effects = [e for e in context.effects if e[0] not in ("clock", "notify")]
    now = clock.now()
    for effect in mine:
        bpmn_id = effect[-1]
        if effect[0] == "notify":
            notifications.for_case_holders(case, effect[1], bpmn_id)
        elif effect[1] == "start":
            _start(case, effect[2], actor, bpmn_id, workflow, result)
        elif effect[1] == "stop":
            for row in open_clocks(case):
                if row.name in effect[2]["names"]:
                    _stop(case, row, now, actor, workflow, result, bpmn_id)

    # A human task with `stops_clock` stops those clocks when it is completed (e.g. the analysis of a dispute).
    user_tasks = workflow.pspec.user_tasks
    for entry in result.path:
        stops = (user_tasks.get(entry.get("bpmn_id")) or {}).get("properties", {}).get("stops_clock")
        names = {n.strip() for n in (stops or "").split(",") if n.strip()}
        for row in open_clocks(case) if names else ():
            if row.name in names:
                _stop(case, row, now, actor, workflow, result, entry.get("bpmn_id"))

    if existing is None:
        existing = set(db.session.scalars(select(TaskRow.id).where(TaskRow.case_id == case.id,
                                                                   TaskRow.state == "ready")))
    pausing: set[str] = set()
    for task in result.ready:
        value = (task.properties or {}).get("pauses_clock")
        if value:
            pausing |= {"*"} if value in ("true", "all") else {n.strip() for n in value.split(",")}
        if task.id not in existing and (task.properties or {}).get("notify"):
            notifications.for_new_task(case, task)

    for row in open_clocks(case):
        if result.completed:
            _stop(case, row, now, actor, workflow, result)
            continue
        wanted = "*" in pausing or row.name in pausing
        if wanted and row.paused_at is None:
            _pause(case, row, now, actor, workflow, None)
        elif not wanted and row.paused_at is not None:
            _resume(case, row, now, actor, workflow, result)
    result.next_timer_at = workflow.next_timer_at()
