"""Task actions: claim / release / reassign, bulk, drafts: the task table, under the case row lock (case_lock).

The task list's queries (tabs, filters, counts) are in app/services/tasks/task_list.py.
"""

from sqlalchemy import bindparam, select, update

from app import clock
from app.extensions import db
from app.forms.fields import validate_submission
from app.models import Case, TaskRow, User
from app.services.core import audit, definitions
from app.services.core.case_lock import lock_task_case, ready_after
from app.services.core.case_rules import check_data_size
from app.services.core.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from app.services.core.transaction import use_case
from app.services.tasks.task_list import MANAGER_GROUPS


def lane_members(lane: str | None) -> list[User]:
    """Active, present users who may hold a task of the lane (its members and admins); all of them for None."""
    people = db.session.scalars(select(User).where(User.active.is_(True), User.absent_since.is_(None))
                                .order_by(User.username))
    return [u for u in people if lane is None or u.in_any(lane)]


def may_work(user: User, row: TaskRow) -> bool:
    """Tell whether the user belongs to the task's group; a task without group (camunda:assignee only) is its
    assignee's (and the admins')."""
    return user.in_any(row.lane) if row.lane else (user.is_admin or row.assignee == user.username)


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
        raise Conflict("La tâche a changé entre-temps (déjà prise ou terminée).")
    db.session.refresh(row)


def _record(row: TaskRow, actor: str, type_: str, data: dict) -> None:
    case = db.session.get(Case, row.case_id)
    audit.record(case, actor, type_, task_id=row.id, bpmn_id=row.bpmn_id, data=data)


@use_case
def claim(user: User, task_id: str) -> TaskRow:
    """Take an unassigned ready task of one of the user's lanes."""
    row = lock_task_case(task_id)  # the case row lock first, as every case change (case_lock)
    if not may_work(user, row):
        raise Forbidden(f"Cette tâche est réservée au groupe « {row.lane} ».")
    if row.state != "ready":
        raise Conflict("Cette tâche a déjà été traitée.")
    if row.assignee == user.username:
        return row  # nothing to write: the transaction ends, and with it the case lock
    if row.assignee:
        raise Conflict(f"Cette tâche est déjà prise par {row.assignee}.")
    _change_assignee(row, None, user.username)
    _record(row, user.username, "task_claimed", {"assignee": user.username})
    return row


@use_case
def unclaim(user: User, task_id: str) -> TaskRow:
    """Release a task: its holder, a manager or an admin."""
    row = lock_task_case(task_id)
    if row.state != "ready":
        raise Conflict("Cette tâche a déjà été traitée.")
    if row.assignee is None:
        return row
    if row.assignee != user.username and not user.in_any(*MANAGER_GROUPS):
        raise Forbidden("Seul le détenteur ou un responsable peut libérer cette tâche.")
    previous = row.assignee
    _change_assignee(row, previous, None)
    _record(row, user.username, "task_released", {"previous": previous})
    return row


@use_case
def reassign(user: User, task_id: str, username: str) -> TaskRow:
    """Give a task to a member of its lane (managers and admins)."""
    if not user.in_any(*MANAGER_GROUPS):
        raise Forbidden("La réattribution est réservée aux responsables.")
    row = lock_task_case(task_id)
    if row.state != "ready":
        raise Conflict("Cette tâche a déjà été traitée.")
    target = db.session.scalars(select(User).where(User.username == username)).first()
    if target is None or not target.active:
        raise Invalid({"assignee": "Utilisateur inconnu."})
    if target.absent_since is not None:
        raise Invalid({"assignee": f"{username} est déclaré absent : choisissez un autre membre du groupe."})
    if not target.in_any(row.lane or ""):
        raise Invalid({"assignee": f"{username} n'appartient pas au groupe « {row.lane} »."})
    previous = row.assignee
    _change_assignee(row, previous, username)
    _record(row, user.username, "task_reassigned", {"previous": previous, "assignee": username})
    return row


_READY = (select(TaskRow).where(TaskRow.case_id == bindparam("case_id"), TaskRow.state == "ready")
          .order_by(TaskRow.created_at))  # built once: the case id bound


def ready_for_case(case_id: int) -> list[TaskRow]:
    """A case's ready tasks, oldest first."""
    return list(db.session.scalars(_READY, {"case_id": case_id}))


def ready_after_step(case_id: int) -> list[TaskRow]:
    """A case's ready tasks, oldest first, in the transaction of a step of the case: the rows that step wrote (no
    statement), else read as `ready_for_case`."""
    kept = ready_after(case_id)
    return kept if kept is not None else ready_for_case(case_id)


def bulk(user: User, action: str, task_ids: list[str], assignee: str | None = None) -> list[tuple[str, bool, str]]:
    """Claim or reassign several tasks, one transaction each; return (task id, done, French message) per task."""
    if action not in ("claim", "reassign"):
        raise Invalid({"action": "Action attendue : claim ou reassign."})
    if action == "reassign" and not user.in_any(*MANAGER_GROUPS):
        raise Forbidden("La réattribution est réservée aux responsables.")
    if action == "reassign" and not assignee:
        raise Invalid({"assignee": "Choisissez la personne à qui attribuer les tâches."})
    outcomes = []
    for task_id in dict.fromkeys(task_ids):  # keep order, drop repeats
        row = db.session.get(TaskRow, task_id)
        label = row.case_reference + " — " + row.name if row is not None else task_id
        try:
            if action == "claim":
                claim(user, task_id)
                outcomes.append((task_id, True, f"{label} : prise."))
            else:
                reassign(user, task_id, assignee)
                outcomes.append((task_id, True, f"{label} : attribuée à {assignee}."))
        except Invalid as exc:
            outcomes.append((task_id, False, f"{label} : {' '.join(exc.errors.values())}"))
        except ServiceError as exc:
            outcomes.append((task_id, False, f"{label} : {exc.message}"))
    return outcomes


def form_fields(row: TaskRow) -> list:
    """The task's form fields, from the pinned definition's parsed spec (no workflow is loaded)."""
    case = db.session.get(Case, row.case_id)
    pspec = definitions.spec_for(case.definition)
    return list(pspec.user_tasks.get(row.bpmn_id, {}).get("form", []))


def readonly_values(row: TaskRow, fields: list) -> dict:
    """The case's current values of the form's readonly fields (shown, as Camunda does, never taken back)."""
    case = db.session.get(Case, row.case_id)
    data = case.data or {}
    values = {}
    for spec in fields:
        if spec.readonly and data.get(spec.name) is not None:
            value = data[spec.name]
            values[spec.name] = value[:10] if spec.type == "date" and isinstance(value, str) else value
    return values


def actionable_row(user: User, task_id: str) -> TaskRow:
    """A ready task row the user may work on: 404 unknown, 409 done, 403 other lane or held by someone else."""
    row = db.session.get(TaskRow, task_id)
    if row is None:
        raise NotFound("Tâche inconnue.")
    if row.state != "ready":
        raise Conflict("Cette tâche a déjà été traitée.", completed_by=row.completed_by)
    if not may_work(user, row):
        raise Forbidden(f"Cette tâche est réservée au groupe « {row.lane} ».")
    if row.assignee and row.assignee != user.username and not user.is_admin:
        raise Forbidden(f"Cette tâche est attribuée à {row.assignee}.")
    return row


@use_case
def save_draft(user: User, task_id: str, raw_data: dict, *, html: bool = False) -> TaskRow:
    """Keep what was typed in a ready task's form without completing it (partial validation)."""
    locked = lock_task_case(task_id)  # kept: actionable_row finds the row in the session
    row = actionable_row(user, locked.id)
    clean, errors = validate_submission(form_fields(row), raw_data or {}, partial=True, html=html)
    if errors:
        raise Invalid(errors)
    clean = {k: v for k, v in clean.items() if v is not None}  # empty fields fall back to the BPMN defaults
    check_data_size(clean)
    result = db.session.execute(
        update(TaskRow).where(TaskRow.id == row.id, TaskRow.state == "ready").values(draft=clean)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict("Cette tâche a déjà été traitée.")
    _record(row, user.username, "draft_saved", {"fields": sorted(clean)})
    db.session.refresh(row)
    return row


_OPTIONS: dict[str, dict] = {}  # definitions.versions_key() -> list_options() (one entry)


def list_options(versions_key: str | None = None) -> dict:
    """Choices for the task list filters, from the deployed definitions (no task scan, no workflow): computed
    again only when the active versions change. versions_key: definitions.versions_key() as the caller read it
    with its own rows (the task list page), else one light query here; the documents are not loaded."""
    key = definitions.active_versions_key() if versions_key is None else versions_key
    options = _OPTIONS.get(key)
    if options is None:
        active = definitions.all_active()
        options = _list_options(active)
        if definitions.versions_key_of(active) == key:  # not a version deployed in between
            _OPTIONS.clear()
            _OPTIONS[key] = options
    return options


def _list_options(active) -> dict:
    processes, steps, channels, origins = [], {}, {}, {}
    for definition in active:
        pspec = definitions.spec_for(definition)
        processes.append((definition.key, definition.name or definition.key))
        for bpmn_id, info in pspec.user_tasks.items():
            steps.setdefault(bpmn_id, f"{info['name']} ({definition.name or definition.key})")
        for spec in pspec.start_form:
            if spec.name == "channel":
                channels.update(dict(spec.options))
            elif spec.name == "origin":
                origins.update(dict(spec.options))
    return {"processes": processes, "steps": sorted(steps.items(), key=lambda s: s[1]),
            "channels": sorted(channels.items(), key=lambda c: c[1]), "channel_names": channels,
            "origins": sorted(origins.items(), key=lambda c: c[1])}


def refresh(row: TaskRow) -> TaskRow:
    """Reload a row after another transaction changed it."""
    db.session.rollback()
    db.session.refresh(row)
    return row


def case_reference_of(task_id: str) -> str | None:
    """The reference of a task row's case (None for an unknown task)."""
    return db.session.scalar(select(TaskRow.case_reference).where(TaskRow.id == task_id))
