"""Every SQLAlchemy session listener of the application, installed by one call from create_app.

Each line says what it keeps. Mapper-level derived keys of a row (the task list's due and customer keys) live
next to their model (app/models/task.py); per-row facts are recomputed by the models' `refresh_facts`, called
from the rollup's before_flush below.
"""

from sqlalchemy import event

from app.extensions import db
from app.services.core import audit, case_lock, rollup


def _listen(name: str, fn) -> None:
    if not event.contains(db.session, name, fn):
        event.listen(db.session, name, fn)


def install() -> None:
    """Install the listeners on the application's scoped session (idempotent)."""
    # The audit chain heads cached by the transaction (next sequence, previous hash) are dropped when it ends, or
    # when a savepoint rolls back.
    _listen("after_transaction_end", audit.forget_heads)
    _listen("after_rollback", audit.clear_pending)
    # Indicator facts: durations, new task rows' copies of their case's filter columns, and the daily rollup,
    # all written by the committing transaction itself (before_flush captures, before_commit adds the deltas).
    _listen("before_flush", rollup.before_flush)
    _listen("before_commit", rollup.before_commit)
    _listen("after_rollback", rollup.clear)
    # The case row locks the transaction holds (case_lock.lock_case takes each once) are forgotten at its end.
    _listen("after_transaction_end", case_lock.release)
