"""Deadline clocks: rules read from BPMN properties, the case_clock table, pauses while waiting for the complainant.

Handlers ask for clock changes through the step context; `after_step` applies them in the step's transaction,
before the workflow is saved, because pausing and resuming a clock also holds and shifts its BPMN timers.
See docs/modelling.md, "Deadlines and clocks".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Case, CaseClock, TaskRow
from app.services import audit, notifications
from app.services.calendar import MAX_DAYS, PARIS, add_days

CALENDARS = ("calendar", "working")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_OVERRIDE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*:\s*(\S+)\s*$")
# Properties a deadline rule may carry, per handler topic (unknown ones are refused at deploy: typos matter).
DEADLINE_PROPS = {"clock", "variable", "days", "calendar", "from", "days_by_channel", "days_by_kind",
                  "calendar_by_channel", "calendar_by_kind", "remind_before", "remind_variable"}
TOPIC_PROPS = {
    "set_deadline": DEADLINE_PROPS,
    "send_message": DEADLINE_PROPS | {"template", "stops_clock"},
    "stop_clock": {"clock"},
    "notify": {"to", "text", "kind"},
}


@dataclass
class Rule:
    """A resolved deadline rule for one case: which clock, which variable, how many days of which kind."""

    name: str
    variable: str
    days: int
    calendar: str
    start_variable: str
    remind_before: int | None
    remind_variable: str

    @property
    def working(self) -> bool:
        return self.calendar == "working"


def _overrides(text: str | None, what: str, convert) -> dict:
    """Parse "email:5,letter:15" into {"email": 5, "letter": 15}; ValueError names the bad part."""
    result = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        match = _OVERRIDE.match(part)
        if not match:
            raise ValueError(f"{what} : « {part.strip()} » n'a pas la forme valeur:réglage")
        key, value = match.groups()
        if key in result:
            raise ValueError(f"{what} : « {key} » est donné deux fois")
        result[key] = convert(value, what)
    return result


def _days(value, what: str = "days") -> int:
    try:
        days = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{what} : nombre de jours invalide « {value} »") from None
    if not 0 <= days <= MAX_DAYS:
        raise ValueError(f"{what} : nombre de jours hors limites ({days})")
    return days


def _calendar(value, what: str = "calendar") -> str:
    if value not in CALENDARS:
        raise ValueError(f"{what} : « {value} » au lieu de calendar ou working")
    return value


def _name(value: str, what: str) -> str:
    if not NAME.match(value or ""):
        raise ValueError(f"{what} : nom invalide « {value} » (minuscules, chiffres, _)")
    return value


def rule_from(props: dict, data: dict, *, default_days: int = 15) -> Rule:
    """Resolve a rule: a channel override wins over a kind override, which wins over the plain setting."""
    variable = _name(props.get("variable") or "due_at", "variable")
    days = _days(props.get("days", default_days))
    calendar = _calendar(props.get("calendar") or "calendar")
    channel, kind = str(data.get("channel") or ""), str(data.get("kind") or "")
    for key, value in (("kind", kind), ("channel", channel)):  # channel last: it wins
        by_days = _overrides(props.get(f"days_by_{key}"), f"days_by_{key}", _days)
        by_calendar = _overrides(props.get(f"calendar_by_{key}"), f"calendar_by_{key}", _calendar)
        days = by_days.get(value, days)
        calendar = by_calendar.get(value, calendar)
    remind = props.get("remind_before")
    return Rule(name=_name(props.get("clock") or variable, "clock"), variable=variable, days=days,
                calendar=calendar, start_variable=props.get("from") or "received_at",
                remind_before=_days(remind, "remind_before") if remind not in (None, "") else None,
                remind_variable=_name(props.get("remind_variable") or "remind_at", "remind_variable"))


def due_from(rule: Rule, start: datetime, date_only: bool) -> tuple[datetime, datetime | None]:
    """The due date (and the reminder date) of a rule started at `start`, in UTC."""
    due = add_days(start.astimezone(PARIS), rule.days, working=rule.working)
    if date_only:  # a deadline counted from a date ends at the end of that day, Paris time
        due = datetime.combine(due.astimezone(PARIS).date(), time(23, 59, 59), PARIS)
    remind = add_days(due, -rule.remind_before, working=rule.working) if rule.remind_before else None
    return due.astimezone(UTC), remind.astimezone(UTC) if remind else None


def check_properties(topic: str | None, props: dict) -> list[str]:
    """Problems with a service task's deadline properties, found at deploy rather than in a live case."""
    allowed = TOPIC_PROPS.get(topic or "")
    if allowed is None:
        return []
    problems = []
    if topic == "send_message" and not (props.keys() & (DEADLINE_PROPS - {"variable"})):
        return [f"propriété inconnue « {k} »" for k in props if k not in allowed]
    problems += [f"propriété inconnue « {k} »" for k in props if k not in allowed]
    if topic in ("set_deadline", "send_message"):
        try:
            # Every override must parse, whatever the case's channel and kind.
            rule_from(props, {})
            for key in ("channel", "kind"):
                _overrides(props.get(f"days_by_{key}"), f"days_by_{key}", _days)
                _overrides(props.get(f"calendar_by_{key}"), f"calendar_by_{key}", _calendar)
        except ValueError as exc:
            problems.append(str(exc))
    for key in ("stops_clock", "clock") if topic in ("stop_clock", "send_message") else ():
        for name in filter(None, (n.strip() for n in (props.get(key) or "").split(","))):
            try:
                _name(name, key)
            except ValueError as exc:
                problems.append(str(exc))
    if topic == "stop_clock" and not props.get("clock"):
        problems.append("propriété « clock » manquante")
    if topic == "notify":
        if not props.get("text"):
            problems.append("propriété « text » manquante")
        if props.get("kind", "info") not in notifications.KINDS:
            problems.append(f"kind : « {props.get('kind')} » au lieu de {', '.join(notifications.KINDS)}")
    return problems


def check_definition(pspec) -> list[tuple[str, str]]:
    """Check the deadline properties of every service task and pausing user task of a parsed definition."""
    problems = []
    for spec in (pspec.spec, *pspec.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            props = dict(getattr(task_spec, "extensions", None) or {})
            topic = getattr(task_spec, "topic", None)
            if topic:
                problems += [(task_spec.name, m) for m in check_properties(topic, props)]
            if topic:
                continue
            for key in ("pauses_clock", "stops_clock"):
                value = props.get(key)
                if not value or (key == "pauses_clock" and value in ("true", "all")):
                    continue
                for name in value.split(","):
                    if not NAME.match(name.strip()):
                        problems.append((task_spec.name, f"{key} : nom invalide « {name.strip()} »"))
    return problems


# --- the table ------------------------------------------------------------------------------------------

def open_clocks(case: Case) -> list[CaseClock]:
    return list(db.session.scalars(select(CaseClock).where(
        CaseClock.case_id == case.id, CaseClock.stopped_at.is_(None)).order_by(CaseClock.id)))


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

def after_step(case: Case, workflow, result, context, actor: str) -> None:
    """Apply the step's clock and notification requests, then pause or resume clocks from the ready tasks."""
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


# --- replay (app/services/replay.py): pauses change the workflow, so the audit log replays them ---------------

def _replay_paused(replay, event) -> None:
    replay.workflow.hold_timers(set(event.data.get("variables") or []))


def _replay_resumed(replay, event) -> None:
    variables = set(event.data.get("variables") or [])
    if event.data.get("updates"):
        replay.workflow.update_data(dict(event.data["updates"]))
    replay.workflow.release_timers(variables, timedelta(seconds=int(event.data.get("paused_seconds") or 0)))


def register_replay() -> None:
    """Teach the audit replay the clock events that change a workflow (held and shifted timers)."""
    from app.services import replay

    replay.replays("clock_paused")(_replay_paused)
    replay.replays("clock_resumed")(_replay_resumed)

