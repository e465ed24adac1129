"""Task list queries and claim / release / reassign: they read and write the task table only."""

from sqlalchemy import func, select, update

from app import clock
from app.extensions import db
from app.models import Case, TaskRow, User
from app.services import audit
from app.services.errors import Conflict, Forbidden, Invalid, NotFound

SCOPES = ("mine", "group", "all")
MANAGER_GROUPS = ("responsable",)


def visible_query(user: User, scope: str = "group"):
    """The select of ready task rows a user sees in a scope (mine, group = unassigned in my lanes, all)."""
    if scope not in SCOPES:
        raise Invalid({"scope": "Valeur attendue : mine, group ou all."})
    query = select(TaskRow).where(TaskRow.state == "ready")
    if scope == "mine":
        return query.where(TaskRow.assignee == user.username)
    if scope == "group":
        if user.is_admin:
            return query.where(TaskRow.assignee.is_(None))
        return query.where(TaskRow.assignee.is_(None), TaskRow.lane.in_(user.groups))
    if not user.in_any(*MANAGER_GROUPS, "auditeur"):
        raise Forbidden("La vue « toutes les tâches » est réservée aux responsables.")
    return query


def list_tasks(user: User, scope: str = "group", limit: int = 200, offset: int = 0) -> list[TaskRow]:
    query = visible_query(user, scope).order_by(TaskRow.due_at.is_(None), TaskRow.due_at, TaskRow.created_at)
    return list(db.session.scalars(query.limit(limit).offset(offset)))


def count_tasks(user: User, scope: str) -> int:
    return db.session.scalar(select(func.count()).select_from(visible_query(user, scope).subquery())) or 0


def get_task(user: User, task_id: str) -> TaskRow:
    """A task row the user may see: its lane's members, its holder, managers, auditors and admins."""
    row = db.session.get(TaskRow, task_id)
    if row is None:
        raise NotFound("Tâche inconnue.")
    if not (user.in_any(row.lane or "", *MANAGER_GROUPS, "auditeur") or row.assignee == user.username):
        raise Forbidden("Cette tâche n'est pas visible pour vous.")
    return row


def _change_assignee(row: TaskRow, expected: str | None, new: str | None) -> None:
    """Compare-and-set the holder so two simultaneous claims cannot both win."""
    cond = TaskRow.assignee.is_(None) if expected is None else TaskRow.assignee == expected
    result = db.session.execute(
        update(TaskRow).where(TaskRow.id == row.id, TaskRow.state == "ready", cond)
        .values(assignee=new, claimed_at=clock.now() if new else None)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict("La tâche a changé entre-temps (déjà prise ou terminée).")
    db.session.refresh(row)


def _record(row: TaskRow, actor: str, type_: str, data: dict) -> None:
    case = db.session.get(Case, row.case_id)
    audit.record(case, actor, type_, task_id=row.id, bpmn_id=row.bpmn_id, data=data)


def claim(user: User, task_id: str) -> TaskRow:
    """Take an unassigned ready task of one of the user's lanes."""
    row = db.session.get(TaskRow, task_id)
    if row is None:
        raise NotFound("Tâche inconnue.")
    if not user.in_any(row.lane or ""):
        raise Forbidden(f"Cette tâche est réservée au groupe « {row.lane} ».")
    if row.state != "ready":
        raise Conflict("Cette tâche a déjà été traitée.")
    if row.assignee == user.username:
        return row
    if row.assignee:
        raise Conflict(f"Cette tâche est déjà prise par {row.assignee}.")
    _change_assignee(row, None, user.username)
    _record(row, user.username, "task_claimed", {"assignee": user.username})
    db.session.commit()
    return row


def unclaim(user: User, task_id: str) -> TaskRow:
    """Release a task: its holder, a manager or an admin."""
    row = db.session.get(TaskRow, task_id)
    if row is None:
        raise NotFound("Tâche inconnue.")
    if row.state != "ready":
        raise Conflict("Cette tâche a déjà été traitée.")
    if row.assignee is None:
        return row
    if row.assignee != user.username and not user.in_any(*MANAGER_GROUPS):
        raise Forbidden("Seul le détenteur ou un responsable peut libérer cette tâche.")
    previous = row.assignee
    _change_assignee(row, previous, None)
    _record(row, user.username, "task_released", {"previous": previous})
    db.session.commit()
    return row


def reassign(user: User, task_id: str, username: str) -> TaskRow:
    """Give a task to a member of its lane (managers and admins)."""
    if not user.in_any(*MANAGER_GROUPS):
        raise Forbidden("La réattribution est réservée aux responsables.")
    row = db.session.get(TaskRow, task_id)
    if row is None:
        raise NotFound("Tâche inconnue.")
    if row.state != "ready":
        raise Conflict("Cette tâche a déjà été traitée.")
    target = db.session.scalars(select(User).where(User.username == username)).first()
    if target is None or not target.active:
        raise Invalid({"assignee": "Utilisateur inconnu."})
    if not target.in_any(row.lane or ""):
        raise Invalid({"assignee": f"{username} n'appartient pas au groupe « {row.lane} »."})
    previous = row.assignee
    _change_assignee(row, previous, username)
    _record(row, user.username, "task_reassigned", {"previous": previous, "assignee": username})
    db.session.commit()
    return row


def ready_for_case(case_id: int) -> list[TaskRow]:
    """A case's ready tasks, oldest first."""
    return list(db.session.scalars(select(TaskRow).where(TaskRow.case_id == case_id, TaskRow.state == "ready")
                                   .order_by(TaskRow.created_at)))
