"""Background workers' heartbeats: each pass of `timers run` and `outbox send` writes one row (worker_heartbeat).

A table rather than files in the instance folder: the web servers (readiness, metrics) and the workers may run
on different machines, and they already share the database.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import WorkerHeartbeat
from app.services.core.errors import Conflict
from app.services.core.transaction import transaction

WORKERS = ("timers", "outbox")  # the kinds the CLI runs; a new worker adds its name here
_started: list[datetime] = []  # when this process made its first pass


def beat(name: str, error: str | None = None) -> None:
    """Record a pass of this process's worker `name` (error: why the pass failed), in a transaction of its own."""
    host, pid = socket.gethostname()[:200], os.getpid()
    if not _started:
        _started.append(clock.now())
    try:
        with transaction():
            row = db.session.get(WorkerHeartbeat, name)
            if row is None:
                row = WorkerHeartbeat(name=name, host=host, pid=pid, started_at=_started[0], passes=0)
                db.session.add(row)
            if (row.host, row.pid) != (host, pid):  # another instance took over: count this one's passes
                row.host, row.pid, row.started_at, row.passes = host, pid, _started[0], 0
            row.beat_at, row.passes, row.last_error = clock.now(), (row.passes or 0) + 1, (error or None)
    except Conflict:
        pass  # two instances beat at once: one row won, which is all the heartbeat says


def last_beats() -> dict[str, datetime]:
    """When each kind of worker last made a pass."""
    return {row.name: row.beat_at for row in db.session.scalars(select(WorkerHeartbeat))}
