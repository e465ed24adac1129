"""The hash-chained, append-only audit log: written in the caller's transaction, verified on demand."""

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import AuditEvent, Case
from app.services.core import personal

GENESIS = "0" * 64


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def compute_hash(event: AuditEvent) -> str:
    """Hash an event's content together with the previous hash."""
    payload = {
        "case": event.case_reference, "seq": event.seq, "at": event.at.isoformat(), "actor": event.actor,
        "type": event.type, "task": event.task_id, "bpmn_id": event.bpmn_id,
        "definition": event.definition_id, "data": event.sealed, "prev": event.prev_hash,
    }
    return hashlib.sha256(_canonical(payload).encode("utf-8")).hexdigest()


def _last(case_id: int | None) -> AuditEvent | None:
    query = select(AuditEvent).where(
        AuditEvent.case_id.is_(None) if case_id is None else AuditEvent.case_id == case_id
    ).order_by(AuditEvent.seq.desc()).limit(1)
    return db.session.scalars(query).first()


def record(case: Case | None, actor: str, type_: str, *, data: dict | None = None, task_id: str | None = None,
           bpmn_id: str | None = None) -> AuditEvent:
    """Append one event to the case's chain (or the global chain) in the current transaction."""
    if case is not None and case.id is None:
        db.session.flush()
    # JSON round trip: the stored data is exactly what was hashed, whatever the backend gives back.
    clean = json.loads(_canonical(data or {}))
    if case is not None:
        clean = personal.seal(case, clean)  # personal values enter the chain sealed (crypto-shredding)
    cache = _pending_heads()
    key = case.id if case is not None else None
    last = cache.get(key) or _last(key)
    event = AuditEvent(
        case_id=key, case_reference=case.reference if case is not None else None,
        seq=(last.seq + 1) if last else 1, at=clock.now(), actor=actor, type=type_, task_id=task_id,
        bpmn_id=bpmn_id, definition_id=case.definition_id if case is not None else None, data=clean,
        prev_hash=last.hash if last else GENESIS, hash="",
    )
    event.hash = compute_hash(event)
    db.session.add(event)
    cache[key] = event
    return event


def _pending_heads() -> dict:
    """Chain heads added in this transaction but maybe not flushed yet."""
    return db.session.info.setdefault("audit_heads", {})


def clear_pending(session, *args) -> None:
    session.info.pop("audit_heads", None)


@dataclass
class ChainProblem:
    reference: str | None
    seq: int
    message: str


def verify(reference: str | None = None) -> list[ChainProblem]:
    """Check every chain (or one case's): each event's hash and its link to the previous one."""
    query = select(AuditEvent).order_by(AuditEvent.case_id, AuditEvent.seq)
    if reference is not None:
        query = query.where(AuditEvent.case_reference == reference)
    problems, previous = [], {}
    for event in db.session.scalars(query).yield_per(1000):
        key = event.case_id
        expected_prev, expected_seq = previous.get(key, (GENESIS, 1))
        if event.seq != expected_seq:
            problems.append(ChainProblem(event.case_reference, event.seq, f"séquence attendue {expected_seq}"))
        elif event.prev_hash != expected_prev:
            problems.append(ChainProblem(event.case_reference, event.seq, "lien vers l'événement précédent rompu"))
        elif compute_hash(event) != event.hash:
            problems.append(ChainProblem(event.case_reference, event.seq, "contenu modifié (empreinte invalide)"))
        previous[key] = (event.hash, event.seq + 1)
    return problems


def head(case_id: int) -> str:
    """The hash at the head of a case's chain."""
    last = _last(case_id)
    return last.hash if last else GENESIS


def count_for(case_id: int) -> int:
    return db.session.scalar(select(func.count()).where(AuditEvent.case_id == case_id)) or 0


def history(case_id: int) -> list[AuditEvent]:
    """A case's events in order."""
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)))
