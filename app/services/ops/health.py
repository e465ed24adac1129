"""Health check: is the database reachable, and at which schema revision."""

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

log = logging.getLogger("reclamations.health")


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
