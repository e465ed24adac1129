"""Named service-task handlers: the generic Python behind `camunda:topic` in the BPMN.

A handler gets the step context, the task's camunda:properties and a copy of its data, and returns the data
updates to merge. Process-specific choices (which letter, how many days) live in the BPMN properties.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.services.calendar import add_days

PARIS = ZoneInfo("Europe/Paris")
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


@handler("set_deadline")
def set_deadline(ctx, props: dict, data: dict) -> dict:
    """Set `variable` to `from` (default received_at, else now) plus `days` calendar or working days."""
    variable = props.get("variable") or "due_at"
    try:
        days = int(props.get("days", "15"))
    except ValueError:
        raise HandlerError(f"Nombre de jours invalide : {props.get('days')}") from None
    working = (props.get("calendar") or "calendar") == "working"
    parsed = parse_moment(data.get(props.get("from") or "received_at"))
    start, date_only = parsed if parsed else (ctx.now(), False)
    due = add_days(start.astimezone(PARIS), days, working=working)
    if date_only:  # a deadline counted in days ends at the end of that day, Paris time
        due = datetime.combine(due.astimezone(PARIS).date(), time(23, 59, 59), PARIS)
    return {variable: due.astimezone(UTC).isoformat()}


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
    """Write the message named by `template` to the complainant into the outbox."""
    template = props.get("template")
    if not template:
        raise HandlerError("Propriété « template » manquante.")
    ctx.send_message(template, data)
    sent = list(data.get("messages_sent") or [])
    sent.append(template)
    return {"messages_sent": sent}


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
