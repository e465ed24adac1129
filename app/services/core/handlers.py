"""Named service-task handlers: the generic Python behind `camunda:topic` in the BPMN.

A handler gets the step context, the task's camunda:properties and a copy of its data, and returns the data
updates to merge. Process-specific choices (which letter, how many days) live in the BPMN properties.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from app.services.core import deadline_rules
from app.vocabulary import MESSAGE_CHANNELS, PARIS

HANDLERS: dict[str, Callable] = {}


class HandlerError(ValueError):
    """A handler refused its input; the case goes to incident with this message."""


def handler(name: str):
    """Register a service-task handler under its camunda:topic name."""
    def register(fn):
        HANDLERS[name] = fn
        return fn
    return register


def parse_moment(value) -> tuple[datetime, bool] | None:
    """An ISO date or datetime as an aware UTC datetime; the flag says it was a date only."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=PARIS)), False
    if isinstance(value, date):
        return datetime.combine(value, time(), PARIS), True
    text = str(value)
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), PARIS), True
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HandlerError(f"Date invalide : {text[:40]}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=PARIS)), False


def _clock_rule(props: dict, data: dict):
    try:
        return deadline_rules.rule_from(props, data)
    except ValueError as exc:
        raise HandlerError(str(exc)) from None


def _start_clock(ctx, props: dict, data: dict, *, stopped: bool = False) -> dict:
    """Compute a rule's due date from its start variable and ask the context to record the clock."""
    rule = _clock_rule(props, data)
    parsed = parse_moment(data.get(rule.start_variable))
    start, date_only = parsed if parsed else (ctx.now(), False)
    due, remind = deadline_rules.due_from(rule, start, date_only)
    updates = {} if stopped else {rule.variable: due.isoformat()}
    if remind is not None and not stopped:
        updates[rule.remind_variable] = remind.isoformat()
    ctx.clock("start", name=rule.name, variable=None if stopped else rule.variable, days=rule.days,
              calendar=rule.calendar, started_at=start.astimezone(UTC), due_at=due,
              remind_variable=rule.remind_variable if remind is not None and not stopped else None,
              stopped=stopped)
    return updates


@handler("set_deadline")
def set_deadline(ctx, props: dict, data: dict) -> dict:
    """Start the clock `clock`: `variable` = `from` (default received_at, else now) + days (see modelling.md)."""
    return _start_clock(ctx, props, data)


@handler("stop_clock")
def stop_clock(ctx, props: dict, data: dict) -> dict:
    """Stop the named running clocks (comma-separated `clock`): met if before their due date, else breached."""
    names = [n.strip() for n in (props.get("clock") or "").split(",") if n.strip()]
    if not names:
        raise HandlerError("Propriété « clock » manquante.")
    ctx.clock("stop", names=names)
    return {}


@handler("notify")
def notify(ctx, props: dict, data: dict) -> dict:
    """Notify staff: the holders of the case's open tasks (default) or the group named by `to`."""
    if not props.get("text"):
        raise HandlerError("Propriété « text » manquante.")
    ctx.notify(dict(props))
    return {}


@handler("set_status")
def set_status(ctx, props: dict, data: dict) -> dict:
    """Set the case status; `closed` also stamps closed_at."""
    status = props.get("status")
    if not status:
        raise HandlerError("Propriété « status » manquante.")
    updates = {"status": status}
    if status == "closed" and not data.get("closed_at"):
        updates["closed_at"] = ctx.now().isoformat()
    return updates


@handler("send_message")
def send_message(ctx, props: dict, data: dict) -> dict:
    """Write the message named by `template` to the complainant into the outbox (`channel`: how, if possible)."""
    template = props.get("template")
    if not template:
        raise HandlerError("Propriété « template » manquante.")
    channel = (props.get("channel") or "").strip() or None
    if channel not in (None, *MESSAGE_CHANNELS):
        raise HandlerError(f"Propriété « channel » inconnue : « {channel} » (email, letter, registered_letter).")
    if channel:
        ctx.send_message(template, data, channel=channel)
    else:
        ctx.send_message(template, data)
    if props.get("clock"):  # a clock measuring the time to this message: started at `from`, stopped now
        _start_clock(ctx, props, data, stopped=True)
    stops = [n.strip() for n in (props.get("stops_clock") or "").split(",") if n.strip()]
    if stops:
        ctx.clock("stop", names=stops)
    # The outbox and the audit log list every message; the data keeps only the last one, so that it does not
    # grow with each pass of a long case.
    return {"last_message": template}


@handler("open_dispute")
def open_dispute(ctx, props: dict, data: dict) -> dict:
    """Open a linked dispute case from this complaint's data."""
    process = props.get("process") or "litige"
    keys = ("customer_name", "customer_email", "customer_phone", "invoice_refs", "blocked_amount", "block_reason")
    child_data = {k: data[k] for k in keys if data.get(k) not in (None, "")}
    child_data["complaint_reference"] = ctx.reference
    reference = ctx.start_child_case(process, child_data)
    return {"dispute_reference": reference}


@handler("notify_origin")
def notify_origin(ctx, props: dict, data: dict) -> dict:
    """Tell the complaint this dispute came from that it is settled (BPMN message `litige_clos`)."""
    if not ctx.has_parent:
        return {}
    payload = {"outcome": data.get("justified"), "credited_amount": data.get("credited_amount"),
               "dispute_reference": ctx.reference}
    ctx.message_parent(props.get("message") or "litige_clos", payload)
    return {}


@handler("create_actions")
def create_actions(ctx, props: dict, data: dict) -> dict:
    """Register in the CAPA register the corrective and preventive actions a quality step defined."""
    owner = str(data.get("action_owner") or "").strip()
    parsed = parse_moment(data.get("action_due"))
    due = parsed[0].astimezone(PARIS).date() if parsed else None
    specs = []
    for kind, field in (("corrective", "corrective_action"), ("preventive", "preventive_action")):
        text = str(data.get(field) or "").strip()
        if text:
            title = text.splitlines()[0].strip()
            specs.append({"kind": kind, "title": title[:197] + "…" if len(title) > 200 else title,
                          "description": text, "owner": owner, "due_on": due})
    if specs and not owner:
        raise HandlerError("Responsable des actions manquant (action_owner).")
    if specs:
        ctx.record_actions(specs)
    return {}


def known(name: str | None) -> bool:
    """Tell whether a service-task name has a registered handler."""
    return name in HANDLERS


__all__ = ["HANDLERS", "HandlerError", "handler", "known", "parse_moment", "timedelta"]
