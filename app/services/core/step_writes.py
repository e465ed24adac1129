"""A step's case row and task rows written by prebuilt Core statements instead of the ORM's unit of work.

After an engine step the session holds one changed case, the completed task row and the new ones: the unit of
work (its dependency sort, per-object bookkeeping and the flush events) cost more than the statements themselves.
`write(case)` writes them at the end of the step: each UPDATE sets the columns that changed (one statement built
per set of columns, bound values, kept), the case's with its lock_version check (a row changed meanwhile raises
StaleDataError, a 409 for the transaction as from the ORM); new task rows are one INSERT each. The objects are
then registered with the session as a flush registers them (`written`), so that what the transaction reads
afterwards (the identity map, a query) is what the database holds, the flush at commit has nothing left of
them, and a rollback drops or expires them as after a flush.

The indicators' bookkeeping the flush would have done (derived facts, the rows' copies of their case's filter
columns, what they contributed before) is done by `rollup.core_write`; an object it cannot take (a case created
by the transaction, a row not read under its case's lock) or whose change is not only columns is left to the
flush, as before.
"""

from __future__ import annotations

from sqlalchemy import bindparam, inspect, update
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.models import Case, TaskRow
from app.models.task import UNDATED, refresh_keys, search_key
from app.models.types import seconds_between
from app.services.core import rollup

_UPDATES: dict[tuple, object] = {}
_TASK_TABLE = TaskRow.__table__
_INSERT_TASK = _TASK_TABLE.insert()
_TASK_COLUMNS = tuple(c.key for c in _TASK_TABLE.columns)


def _update(model, keys: tuple[str, ...]):
    """UPDATE model SET <keys> WHERE id = :w_id (AND lock_version = :w_version for a case), built once per set."""
    stmt = _UPDATES.get((model, keys))
    if stmt is None:
        table = model.__table__
        where = [table.c.id == bindparam("w_id")]
        if model is Case:
            where.append(table.c.lock_version == bindparam("w_version"))
        stmt = _UPDATES[(model, keys)] = update(table).where(*where).values(
            {table.c[k]: bindparam(f"v_{k}") for k in keys})
    return stmt


def _changes(state) -> dict | None:
    """The column attributes changed since the object was loaded {key: value}; None when something else changed
    (a relationship), or a column mapped under another name: left to the flush."""
    columns = state.mapper.columns
    out = {}
    for key, original in state.committed_state.items():
        if key not in columns or columns[key].key != key:
            return None
        value = state.dict.get(key)
        if original is not value and original != value:  # as the ORM: a value set back to what it was is no change
            out[key] = value
    return out


def written(session, obj) -> None:
    """Tell the session that `obj` (pending, or persistent with changes) was just written by a Core statement.

    What the flush does once it has written an object, by SQLAlchemy's own bookkeeping (no public equivalent for
    one object): its values become its loaded ones, a pending one takes its identity, and the transaction notes
    it as new or changed, so that a rollback (of the transaction or of a savepoint) drops a new one from the
    session and expires a changed one, exactly as after a flush."""
    state = inspect(obj)
    state.session._register_persistent({state})  # the Session itself (the caller may hold the scoped proxy)


def _write_update(session, obj) -> None:
    state = inspect(obj)
    if isinstance(obj, TaskRow):
        refresh_keys(obj)
    changes = _changes(state)
    if changes is None:
        return
    params = {f"v_{k}": v for k, v in changes.items()}
    params["w_id"] = obj.id
    if isinstance(obj, Case):
        version = state.committed_state.get("lock_version", obj.lock_version)
        changes["lock_version"] = params["v_lock_version"] = version + 1
        params["w_version"] = version
    if len(changes) > (1 if isinstance(obj, Case) else 0):
        with session.no_autoflush:
            result = session.execute(_update(type(obj), tuple(sorted(changes))), params)
        if isinstance(obj, Case) and result.rowcount != 1:
            raise StaleDataError(f"case {obj.id}: lock_version {params['w_version']} changed meanwhile")
        if isinstance(obj, Case):
            obj.lock_version = version + 1
    written(session, obj)


def _write_insert(session, row: TaskRow) -> None:
    values = {k: getattr(row, k, None) for k in _TASK_COLUMNS}
    values["state"] = values["state"] or "ready"
    values["priority"] = values["priority"] or 0
    values["due_key"] = row.due_at or UNDATED
    values["slack_seconds"] = seconds_between(row.created_at, row.due_at)
    values["customer_key"] = search_key(row.customer_name)
    loaded = inspect(row).dict
    for key, value in values.items():  # every column held, as written: none is read back later
        if key not in loaded or loaded[key] is not value:
            setattr(row, key, value)
    with session.no_autoflush:
        session.execute(_INSERT_TASK, values)
    written(session, row)


def write(case: Case) -> None:
    """Write the case's pending task rows and its own changes now (see the module docstring)."""
    session = db.session
    if case.id is None:
        return
    for obj in [o for o in session.dirty if isinstance(o, TaskRow) and o.case_id == case.id]:
        if rollup.core_write(session, obj):
            _write_update(session, obj)
    for obj in [o for o in session.new if isinstance(o, TaskRow) and o.case_id == case.id]:
        if rollup.core_write(session, obj):
            _write_insert(session, obj)
    state = inspect(case)
    if state.persistent and state.modified and rollup.core_write(session, case):
        _write_update(session, case)
