"""Cases in incident: a script, condition or service task failed; the list an administrator works from."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Case, User
from app.services.core.errors import Forbidden


@dataclass
class Incident:
    reference: str
    process_key: str
    version: int | None
    status: str
    error: str
    bpmn_id: str | None
    since: datetime | None
    actor: str | None


def list_incidents(user: User, limit: int = 500) -> list[Incident]:
    """Every case in incident, most recent first, with the failing element (admins only)."""
    if not user.is_admin:
        raise Forbidden("Réservé aux administrateurs.")
    found = db.session.scalars(select(Case).where(Case.incident.is_not(None))
                               .order_by(Case.updated_at.desc()).limit(limit)).all()
    latest = {}
    if found:
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.case_id.in_([c.id for c in found]), AuditEvent.type == "incident")
            .order_by(AuditEvent.case_id, AuditEvent.seq))
        latest = {e.case_id: e for e in events}  # the last incident event of each case wins
    result = []
    for case in found:
        event = latest.get(case.id)
        result.append(Incident(
            reference=case.reference, process_key=case.process_key, version=case.definition.version,
            status=case.status, error=case.incident or "", bpmn_id=event.bpmn_id if event else None,
            since=event.at if event else case.updated_at, actor=event.actor if event else None))
    return result
