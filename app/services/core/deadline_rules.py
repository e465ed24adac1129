"""Deadline rules, pure: the properties a deadline carries in the BPMN, their checks at deploy, due-date arithmetic.

No database and no other service here: handlers, definitions and the deadline clocks all import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time

from app.services.core.calendar import MAX_DAYS, add_days
from app.vocabulary import MESSAGE_CHANNELS, NOTIFICATION_KINDS, PARIS

CALENDARS = ("calendar", "working")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_OVERRIDE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*:\s*(\S+)\s*$")
# Properties a deadline rule may carry, per handler topic (unknown ones are refused at deploy: typos matter).
DEADLINE_PROPS = {"clock", "variable", "days", "calendar", "from", "days_by_channel", "days_by_kind",
                  "calendar_by_channel", "calendar_by_kind", "remind_before", "remind_variable"}
TOPIC_PROPS = {
    "set_deadline": DEADLINE_PROPS,
    "send_message": DEADLINE_PROPS | {"template", "stops_clock", "channel"},
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
    if topic == "send_message" and props.get("channel") and props["channel"] not in MESSAGE_CHANNELS:
        problems.append(f"propriété « channel » inconnue : « {props['channel']} » (email, letter, registered_letter)")
    if topic == "send_message" and not (props.keys() & (DEADLINE_PROPS - {"variable"})):
        return problems + [f"propriété inconnue « {k} »" for k in props if k not in allowed]
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
        if props.get("kind", "info") not in NOTIFICATION_KINDS:
            problems.append(f"kind : « {props.get('kind')} » au lieu de {', '.join(NOTIFICATION_KINDS)}")
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
