"""Tasks follow their holder: deactivation and absence hand a person's claimed tasks back to the group or to a
delegate, each under its case's row lock (case_lock), each change on the case's audit trail, all in the
caller's one transaction.
"""

from __future__ import annotations

from sqlalchemy import select, update

from app import clock
from app.extensions import db
from app.models import TaskRow, User
from app.services.core import audit
from app.services.core.case_lock import lock_case
from app.services.core.errors import Conflict


def held_by(username: str) -> list[TaskRow]:
    """The ready tasks a person holds, by case (the order locks are taken in)."""
    return list(db.session.scalars(select(TaskRow).where(TaskRow.state == "ready", TaskRow.assignee == username)
                                   .order_by(TaskRow.case_id, TaskRow.created_at)))


def _move(row: TaskRow, holder: str, new: str | None) -> None:
    done = db.session.execute(
        update(TaskRow).where(TaskRow.id == row.id, TaskRow.state == "ready", TaskRow.assignee == holder)
        .values(assignee=new, claimed_at=clock.now() if new else None).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict("Une tâche a changé entre-temps : rechargez et recommencez.")
    db.session.refresh(row)


def hand_over(holder: User, actor: str, reason: str, delegate: User | None = None, *,
              outside_lanes_only: bool = False) -> list[tuple[str, str | None]]:
    """Give each ready task `holder` holds to `delegate` when they may hold it (its lane), else back to the group;
    `outside_lanes_only`: only the tasks of lanes the holder no longer belongs to (their groups changed).

    Returns (case reference, new holder or None) per task. Call inside a transaction.
    """
    moved = []
    for row in held_by(holder.username):
        if outside_lanes_only and holder.in_any(row.lane or ""):
            continue
        case = lock_case(row.case_id)
        db.session.refresh(row)
        if row.state != "ready" or row.assignee != holder.username:
            continue  # completed or released while we waited for the lock
        target = delegate.username if delegate is not None and delegate.active and delegate.in_any(
            row.lane or "") else None
        _move(row, holder.username, target)
        if target is None:
            audit.record(case, actor, "task_released", task_id=row.id, bpmn_id=row.bpmn_id,
                         data={"previous": holder.username, "reason": reason})
        else:
            audit.record(case, actor, "task_reassigned", task_id=row.id, bpmn_id=row.bpmn_id,
                         data={"previous": holder.username, "assignee": target, "reason": reason})
        moved.append((case.reference, target))
    return moved
