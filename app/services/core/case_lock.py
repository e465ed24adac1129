"""The case row lock: every transaction that changes a case takes it first, then reads and writes the rest.

Why: a user completion used to write its task row (and insert audit rows, whose foreign key share-locks the
case row) before updating the case row, while the timer worker locked the case row first and then wrote the
task rows: opposite orders, so PostgreSQL had to kill one of them (deadlock, 40P01). With the case row
always locked first, two transactions on one case queue on that row and both go through in turn.

Which changes: engine steps (completion, timers, messages, incident retry, migration), claim, release,
reassign and drafts, comments, attachments, linked intakes, CAPA links, complainant additions, outbox
deliveries. Each calls `lock_case` (or `lock_task_case`) before it reads what it will decide on.

PostgreSQL: `SELECT … FOR UPDATE OF case_record`. SQLite ignores FOR UPDATE; it serializes writers itself,
and the case's lock_version (version_id_col) still turns a change committed meanwhile into a 409.
"""

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.util import identity_key

from app.extensions import db
from app.models import Case, TaskRow, WorkflowState
from app.services.core import audit, rollup
from app.services.core.errors import NotFound


def lock_case(case_id: int) -> Case:
    """Lock the case's row until the end of the transaction; return the case as committed (re-read).

    Once per transaction: a case already locked in it is returned from the session (nothing else can have
    changed it since), so a use case calling another (a completion from the survey page) locks once.
    """
    # case id -> the locked object: a strong reference (the session's identity map holds objects weakly).
    case = _held().get(case_id)
    if case is not None and case in db.session:
        return case
    case = _lock(_BY_ID, {"case_id": case_id})
    if case is None:
        raise NotFound("Dossier inconnu.")
    return case


def holds(case_id: int) -> bool:
    """True when this transaction took the case's row lock by lock_case (what it reads of the case's rows since
    stays what the database holds until the end)."""
    return case_id in _held()


def _held() -> dict:
    return db.session.info.setdefault("case_locks", {})


def _locking(where):
    return (select(Case).where(where).with_for_update(of=Case)
            .execution_options(populate_existing=True))  # what was read before the lock may be stale


# Built once, the ids bound: the statements (and their cache keys) of every step are the same objects.
_BY_ID = _locking(Case.id == bindparam("case_id"))
_TASK_CASE = Case.id == select(TaskRow.case_id).where(TaskRow.id == bindparam("task_id")).scalar_subquery()
_BY_TASK = _locking(_TASK_CASE)
# A completion's lock also takes the workflow state's row, and so reads it in the same statement. Both rows are
# locked (case first: the order of OF), so that a completion which waited for the lock gets the state a racing
# step committed: PostgreSQL re-reads the latest version of the rows it locks, and only those (a row merely
# joined would be the one of the statement's snapshot: tests/test_step_lock.py). Every writer of a state holds
# its case's lock already, so the second lock never waits.
_BY_TASK_WITH_STATE = (select(Case).join(Case.workflow_state).options(contains_eager(Case.workflow_state))
                       .where(_TASK_CASE).with_for_update(of=(Case, WorkflowState))
                       .execution_options(populate_existing=True))
# After the lock, in one statement: the task row, the case's ready rows, and the head of the case's audit chain
# (the step needs all three; events are appended under the case's lock only, so the head stays until the step's).
_TASK_AND_READY = (select(TaskRow, audit.HEAD_SEQ, audit.HEAD_HASH)
                   .where(TaskRow.case_id == bindparam("case_id"),
                          or_(TaskRow.state == "ready", TaskRow.id == bindparam("task_id"))))


def _lock(query, params: dict) -> Case | None:
    case = db.session.scalars(query, params).first()
    if case is not None:
        _held()[case.id] = case
        rollup.read_fresh(db.session, case)  # what the case contributed before: read now, under the lock
    return case


def release(session, transaction) -> None:
    """Forget the held locks when the outermost transaction ends (commit, rollback, close)."""
    if transaction.parent is None:
        session.info.pop("case_locks", None)
        session.info.pop("ready_rows", None)
        session.info.pop("ready_after", None)


def lock_task_case(task_id: str, *, for_step: bool = False) -> TaskRow:
    """Lock the case of a task row (see lock_case) and return the row re-read after the lock: 404 unknown.

    A row not in the session yet, in a transaction holding no case lock: one statement finds and locks its
    case, then one reads the row with the case's ready rows and its audit chain head (after the lock, so as
    committed), kept for the step (`ready_rows`, `audit.note_head`). `for_step` (a completion): the first
    statement also reads the workflow state."""
    if db.session.identity_map.get(identity_key(TaskRow, task_id)) is None and not _held():
        case = _lock(_BY_TASK_WITH_STATE if for_step else _BY_TASK, {"task_id": task_id})
        found = db.session.execute(_TASK_AND_READY, {"case_id": case.id, "task_id": task_id}).all() \
            if case is not None else []
        rows = [r for r, _, _ in found]
        row = next((r for r in rows if r.id == task_id), None)
        if row is None:
            raise NotFound("Tâche inconnue.")
        audit.note_head(case.id, found[0][1], found[0][2])
        db.session.info["ready_rows"] = (case.id, [r for r in rows if r.state == "ready"])
        rollup.read_fresh(db.session, row)
        return row
    row = db.session.get(TaskRow, task_id)
    if row is None:
        raise NotFound("Tâche inconnue.")
    lock_case(row.case_id)
    refresh_task(row)
    return row


def ready_rows(case_id: int) -> list[TaskRow] | None:
    """The case's ready task rows read by lock_task_case in this transaction, once (None if not read): the
    objects of the session, so a row changed since by the transaction shows it (callers check each row's state
    and add the session's new rows)."""
    kept = db.session.info.pop("ready_rows", None)
    return kept[1] if kept is not None and kept[0] == case_id and holds(case_id) else None


def keep_ready_after(case_id: int, rows: list[TaskRow]) -> None:
    """The case's task rows as a step left them (those ready before it, read under the case's lock, and those it
    created), kept to the end of the transaction for `ready_after`: a step writes every ready row of its case."""
    if holds(case_id):
        db.session.info.setdefault("ready_after", {})[case_id] = rows


def ready_after(case_id: int) -> list[TaskRow] | None:
    """The case's ready task rows, oldest first, as the last step of this transaction left them (None: no step
    of the case in this transaction): the session's objects, so a later change by the transaction shows."""
    rows = db.session.info.get("ready_after", {}).get(case_id)
    if rows is None:
        return None
    return sorted((r for r in rows if r.state == "ready"), key=lambda r: r.created_at)  # stable: ties in step order


def refresh_task(row: TaskRow) -> None:
    """Re-read a task row after its case's lock was taken (and note what it contributed before, see rollup)."""
    db.session.refresh(row)
    rollup.read_fresh(db.session, row)
