"""What an attacker with database access does: drop the append-only guard, rewrite events, recompute hashes."""

from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent
from app.services.core import audit


def drop_guard() -> None:
    """Remove the append-only triggers, as the database administrator can."""
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
    else:
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event"))
    db.session.commit()


def rewrite(reference: str, edit, key: bytes | None = None, key_id: str | None = None) -> None:
    """Apply `edit(event)` to the case's events, then recompute every hash and link of the chain: with the
    public hash function (key None: the events become "unkeyed"), or with a stolen HMAC key."""
    drop_guard()
    events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.case_reference == reference)
                                     .order_by(AuditEvent.seq)))
    previous = audit.GENESIS
    for event in events:
        edit(event)
        event.prev_hash = previous
        event.key_id = key_id if key is not None else None
        event.hash = audit.keyed_hash(event, key) if key is not None else audit.compute_hash(event)
        previous = event.hash
    db.session.commit()
