"""Health checks: liveness (the process answers), readiness (database, schema at head, workers' heartbeats).

`check()` is the original `/health` report, unchanged: database reachable and the schema revision.
"""

import logging
from functools import cache
from pathlib import Path

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import clock
from app.extensions import db
from app.services.ops import heartbeat

log = logging.getLogger("reclamations.health")
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def check() -> dict:
    """Run `SELECT 1` and read the migration revision; never raises."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            try:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except SQLAlchemyError:
                revision = None  # tables made by create_all without a stamp (tests)
        return {"status": "ok", "database": "ok", "schema_revision": revision}
    except SQLAlchemyError as exc:
        log.error("health check: database unreachable: %s", type(exc).__name__)
        return {"status": "error", "database": "unreachable"}


@cache
def migration_head() -> str:
    """The revision this code expects (read once per process)."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def expected_workers() -> list[str]:
    """READY_WORKERS (comma-separated; empty: none), default every CLI worker."""
    configured = current_app.config.get("READY_WORKERS")
    names = heartbeat.WORKERS if configured is None else configured.split(",")
    return [n.strip() for n in names if n.strip()]


def ready() -> dict:
    """Readiness: database reachable, schema at this code's head, each expected worker beat recently."""
    report = check()
    if report["database"] != "ok":
        return {"status": "error", "database": "unreachable"}
    revision, head = report["schema_revision"], migration_head()
    checks = {"database": "ok", "migrations": "ok" if revision == head else f"{revision} (attendu : {head})"}
    max_age = float(current_app.config.get("HEARTBEAT_MAX_AGE", 60))
    try:
        beats = heartbeat.last_beats()
    except SQLAlchemyError:
        beats = {}
    finally:
        db.session.rollback()
    now, workers = clock.now(), {}
    for name in expected_workers():
        beat_at = beats.get(name)
        if beat_at is None:
            workers[name] = {"status": "absent"}
            continue
        age = max((now - beat_at).total_seconds(), 0.0)
        workers[name] = {"status": "ok" if age <= max_age else "en retard", "age_seconds": round(age, 1)}
    checks["workers"] = workers
    ok = checks["migrations"] == "ok" and all(w["status"] == "ok" for w in workers.values())
    return {"status": "ok" if ok else "error", **checks, "schema_revision": revision}
