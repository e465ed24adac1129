"""JSON shapes of cases, tasks and events (no SpiffWorkflow, no queries beyond what is passed in)."""

from app.forms.fields import field_to_json


def _iso(value):
    return value.isoformat() if value is not None else None


def _num(value):
    return float(value) if value is not None else None


def task_json(row) -> dict:
    return {
        "id": row.id, "name": row.name, "bpmn_id": row.bpmn_id, "lane": row.lane, "assignee": row.assignee,
        "case": row.case_reference, "process": row.process_key, "state": row.state, "due_at": _iso(row.due_at),
        "created_at": _iso(row.created_at), "priority": row.priority, "customer_name": row.customer_name,
        "completed_by": row.completed_by, "completed_at": _iso(row.completed_at),
    }


def form_json(fields) -> list[dict]:
    return [field_to_json(f) for f in fields]


def case_json(case, tasks=None) -> dict:
    return {
        "reference": case.reference, "process": case.process_key, "version": case.definition.version,
        "status": case.status, "stage": case.stage, "completed": case.completed, "incident": case.incident,
        "channel": case.channel, "origin": case.origin, "kind": case.kind, "category": case.category,
        "department": case.department, "severity": case.severity, "customer_name": case.customer_name,
        "customer_email": case.customer_email, "amount": _num(case.amount),
        "blocked_amount": _num(case.blocked_amount), "credited_amount": _num(case.credited_amount),
        "satisfaction_score": case.satisfaction_score, "received_at": _iso(case.received_at),
        "due_at": _iso(case.due_at), "closed_at": _iso(case.closed_at), "created_at": _iso(case.created_at),
        "parent": case.parent.reference if case.parent_id else None, "lock_version": case.lock_version,
        "next_timer_at": _iso(case.next_timer_at), "data": case.data,
        "tasks": [task_json(t) for t in (tasks or [])],
    }


def event_json(event) -> dict:
    return {
        "seq": event.seq, "at": _iso(event.at), "actor": event.actor, "type": event.type, "task": event.task_id,
        "bpmn_id": event.bpmn_id, "data": event.data, "prev_hash": event.prev_hash, "hash": event.hash,
    }
