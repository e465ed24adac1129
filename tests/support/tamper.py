"""What an attacker with database access does: lift the append-only guard, rewrite events, recompute hashes."""

from contextlib import contextmanager

from sqlalchemy import DDL, select, text

from app.extensions import db
from app.models import AuditEvent
from app.models.audit import SQLITE_TRIGGERS
from app.services.core import audit


@contextmanager
def unguarded():
    """The append-only triggers lifted for the block, as the database administrator can, and put back after
    (PostgreSQL tests share one database: the next test must find them)."""
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
    else:
        db.session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
    db.session.commit()
    try:
        yield
        db.session.commit()
    finally:
        db.session.rollback()
        if sqlite:
            for sql in SQLITE_TRIGGERS:
                db.session.execute(DDL(sql))
        else:
            db.session.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
        db.session.commit()


def rewrite(reference: str, edit, key: bytes | None = None, key_id: str | None = None) -> None:
    """Apply `edit(event)` to the case's events, then recompute every hash and link of the chain: with the
    public hash function (key None: the events become "unkeyed"), or with a stolen HMAC key."""
    with unguarded():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.case_reference == reference)
                                         .order_by(AuditEvent.seq)))
        previous = audit.GENESIS
        for event in events:
            edit(event)
            event.prev_hash = previous
            event.key_id = key_id if key is not None else None
            event.hash = audit.keyed_hash(event, key) if key is not None else audit.compute_hash(event)
            previous = event.hash
