"""Manual escalation: staff send a waiting step to the next level now, with a reason, instead of waiting a timer.

A user task offers it when it carries the property `escalation_message` naming a BPMN message caught by a
boundary event on that task (litige: `ut_analyse` → `bt_escalate` → « Arbitrer le litige bloqué »). The message is
delivered through lifecycle.deliver_message in one transaction with its audit event and the notification.
"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Case, TaskRow, User
from app.services.cases.lifecycle import deliver_message, get_case
from app.services.core import audit, definitions
from app.services.core.case_lock import lock_case
from app.services.core.errors import Conflict, Forbidden, Invalid
from app.services.core.transaction import transaction
from app.services.messaging import notifications
from app.vocabulary import MANAGER_GROUPS, is_read_only

MAX_REASON = 5000


def escalation_task(case: Case) -> tuple[TaskRow, str] | None:
    """The case's ready task that can be escalated, with the message to send, or None."""
    if case.completed:
        return None
    pspec = definitions.spec_for(case.definition)
    rows = db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "ready")
                              .order_by(TaskRow.created_at))
    rows = list(rows)
    if len(rows) != 1:
        return None  # another step is already open beside it (the arbitration itself): nothing more to escalate
    message = (pspec.user_tasks.get(rows[0].bpmn_id, {}).get("properties") or {}).get("escalation_message")
    return (rows[0], message) if message else None


def can_escalate(user: User, case: Case) -> bool:
    """Whether the user may escalate this case now (the task's group, a manager or an admin; never read-only)."""
    found = escalation_task(case)
    if found is None or is_read_only(user):
        return False
    return user.is_admin or user.in_any(found[0].lane or "", *MANAGER_GROUPS)


def offer(user: User, case: Case) -> TaskRow | None:
    """The task this user may escalate on the case now (for the case and task pages), or None."""
    return escalation_task(case)[0] if can_escalate(user, case) else None


def escalate(user: User, reference: str, reason: str | None) -> Case:
    """Escalate the case's waiting step now: deliver the BPMN message, record the reason, notify the direction."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid({"reason": "Indiquez le motif de l'escalade."})
    if len(reason) > MAX_REASON:
        raise Invalid({"reason": f"{MAX_REASON:,} caractères au maximum.".replace(",", "\u202f")})
    with transaction():
        case = lock_case(get_case(reference).id)
        found = escalation_task(case)
        if found is None:
            raise Conflict("Ce dossier n'a pas d'étape à escalader (déjà arbitré, clos ou hors analyse).")
        row, message = found
        if not can_escalate(user, case):
            raise Forbidden("Seuls le groupe de l'étape, un responsable ou un administrateur peuvent escalader.")
        name = user.full_name or user.username
        before = set(db.session.scalars(select(TaskRow.id).where(TaskRow.case_id == case.id)))
        if not deliver_message(case, message, {"reason": reason, "by": user.username}, user.username):
            raise Conflict("Ce dossier n'attend plus d'escalade.")
        audit.record(case, user.username, "case_escalated", data={"reason": reason, "task": row.name,
                                                                  "message": message})
        # the groups of the steps the escalation opened (the direction for a dispute) read who and why
        lanes = {r.lane for r in db.session.scalars(select(TaskRow).where(
            TaskRow.case_id == case.id, TaskRow.state == "ready", TaskRow.id.not_in(before))) if r.lane}
        for lane in sorted(lanes):
            notifications.add(text=f"Dossier {case.reference} ({case.customer_name or '—'}) escaladé par {name} "
                                   f"depuis « {row.name} » : {reason}"[:2000], kind="escalation", group=lane,
                              case=case)
    return case
