"""The one way a use case runs: `with transaction(): ...` pins the clock, commits once, rolls back on any error.

Races become the service's `Conflict` (409): a stale `lock_version` (StaleDataError), a PostgreSQL deadlock or
serialization victim (40P01, 40001; logged, since the case row lock taken first should prevent them), and an
integrity error (a unique key taken by a concurrent writer). Anything else is rolled back and re-raised.

Nested use (a use case calling another, e.g. the survey page completing a task) joins the outer transaction:
only the outermost block commits, so the whole action still commits together or not at all.

Work outside the database that must follow the transaction's fate (a staged file given its final name, or
removed) is registered with `after_commit(do, undo)`: the outermost block runs `do` once it has committed, or
`undo` when it rolls back; never before the real commit, even when registered inside a nested block.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.extensions import db
from app.services.core.errors import Conflict

STALE = "Le dossier a été modifié entre-temps : rechargez et recommencez."
DUPLICATE = "Cet enregistrement vient d'être créé par ailleurs : rechargez et recommencez."
RACE_STATES = ("40P01", "40001")  # deadlock victim, serialization failure
_DEPTH = "transaction_depth"
_AFTER = "transaction_after"

log = logging.getLogger("reclamations.transaction")
T = TypeVar("T")


def active() -> bool:
    """True inside a `transaction()` block."""
    return db.session.info.get(_DEPTH, 0) > 0


def after_commit(do: Callable[[], None], undo: Callable[[], None] | None = None) -> None:
    """Run do() once the outermost transaction has committed, undo() if it rolls back instead (registered
    outside any block: settled by the next one to end)."""
    db.session.info.setdefault(_AFTER, []).append((do, undo))


def _settle(session, committed: bool) -> None:
    for do, undo in session.info.pop(_AFTER, ()):
        if committed:
            do()
        elif undo is not None:
            undo()


@contextmanager
def transaction(*, stale: str = STALE, duplicate: str = DUPLICATE) -> Iterator[None]:
    """Run the block as one transaction (see the module docstring); `stale`/`duplicate` word the 409s."""
    session = db.session
    depth = session.info.get(_DEPTH, 0)
    if depth:
        session.info[_DEPTH] = depth + 1
        try:
            yield
        finally:
            session.info[_DEPTH] = depth
        return
    session.info[_DEPTH] = 1
    committed = False
    try:
        # One instant per transaction: handlers, timers and audit events agree, so a replay at the recorded
        # event time reproduces the step exactly.
        with clock.pinned():
            yield
            session.commit()
            committed = True
    except StaleDataError:
        session.rollback()
        raise Conflict(stale) from None
    except IntegrityError:
        session.rollback()
        raise Conflict(duplicate) from None
    except OperationalError as exc:
        session.rollback()
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in RACE_STATES:
            log.warning("transaction lost a race (sqlstate %s): answered 409", sqlstate, extra={"sqlstate": sqlstate})
            raise Conflict(stale) from None
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_DEPTH, None)
        _settle(session, committed)


def run(work: Callable[[], T], **messages) -> T:
    """Call work() inside `transaction(**messages)` and return its result."""
    with transaction(**messages):
        return work()


def end_read() -> None:
    """End a read-only transaction (releases SQLite's read snapshot and any row lock taken to decide nothing)."""
    db.session.rollback()


def use_case(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorate a use case so that its whole body runs in `transaction()`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with transaction():
            return fn(*args, **kwargs)

    return wrapper
