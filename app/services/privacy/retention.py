"""Retention: how long a closed case keeps its personal data, the daily purge, and legal holds.

Rules come from `RETENTION_RULES` (years after closure), e.g. the default
`reclamation=5;reclamation/rejected=3;litige=10;*=5`: a process, optionally with an outcome (the case's final
status), or `*`. The most specific rule wins. Disputes follow the accounting rule (10 years). Nothing is purged
from an open case or a case under legal hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Case, LegalHold, User
from app.services.core import audit
from app.services.core.case_lock import lock_case
from app.services.core.errors import Invalid, NotFound
from app.services.core.transaction import transaction
from app.services.privacy import erasure, subjects

DEFAULT_RULES = "reclamation=5;reclamation/rejected=3;litige=10;*=5"
PURGE_REASON = "Durée de conservation échue"


def rules() -> dict[tuple[str, str | None], int]:
    """{(process or "*", outcome or None): years}; a malformed rule is a configuration error, said in French."""
    text = current_app.config.get("RETENTION_RULES") or DEFAULT_RULES
    out = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        target, _, years = part.partition("=")
        process, _, outcome = target.strip().partition("/")
        try:
            value = int(years)
        except ValueError:
            raise ValueError(f"RETENTION_RULES : « {part} » n'a pas la forme processus[/issue]=années") from None
        if not process or value < 0 or value > 100:
            raise ValueError(f"RETENTION_RULES : « {part} » n'a pas la forme processus[/issue]=années")
        out[(process, outcome or None)] = value
    return out


def years_for(case: Case, table: dict | None = None) -> int:
    table = table if table is not None else rules()
    for key in ((case.process_key, case.status), (case.process_key, None), ("*", case.status), ("*", None)):
        if key in table:
            return table[key]
    return 5


def due_at(case: Case, table: dict | None = None) -> datetime | None:
    """When the case's personal data must go (None while the case is open)."""
    if not case.completed:
        return None
    end = case.closed_at or case.updated_at
    years = years_for(case, table)
    try:
        return end.replace(year=end.year + years)
    except ValueError:  # 29 February
        return end.replace(year=end.year + years, day=28)


@dataclass
class PurgeReport:
    due: list[str]
    erased: list[str]
    kept: dict[str, str]
    dry_run: bool


def purge(dry_run: bool = False, actor: str = "system", limit: int = 1000) -> PurgeReport:
    """Anonymise the closed cases whose retention period has ended (legal holds and open cases are kept)."""
    table, now = rules(), clock.now()
    held = set(db.session.scalars(select(LegalHold.case_id)))
    candidates = db.session.scalars(select(Case).where(Case.completed.is_(True), Case.erased_at.is_(None))
                                    .order_by(Case.closed_at).limit(limit * 4))
    due, kept = [], {}
    for case in candidates:
        when = due_at(case, table)
        if when is None or when > now:
            continue
        if case.id in held:
            kept[case.reference] = "conservation pour motif légal"
            continue
        due.append(case)
        if len(due) >= limit:
            break
    references = [c.reference for c in due]
    if dry_run:
        return PurgeReport(references, [], kept, True)
    ids = [c.id for c in due]
    request = subjects.record_request(None, "purge", None, references, {"kept": kept}, reason=PURGE_REASON)
    erased, refused = erasure.erase(ids, actor, PURGE_REASON, request.id)
    kept.update(refused)
    return PurgeReport(references, erased, kept, False)


def set_hold(user: User, reference: str, reason: str | None) -> LegalHold:
    """Keep a case whatever its retention period (litigation, investigation), with a reason; recorded."""
    subjects.require_privacy(user)
    reason = (reason or "").strip()
    if not reason or len(reason) > 2000:
        raise Invalid({"reason": "Indiquez le motif de la conservation (2 000 caractères au plus)."})
    with transaction():
        case = _case(reference)
        lock_case(case.id)
        hold = db.session.get(LegalHold, case.id) or LegalHold(case_id=case.id)
        hold.reason, hold.set_by, hold.set_at = reason, user.username, clock.now()
        db.session.add(hold)
        audit.record(case, user.username, "legal_hold_set", data={"reason": reason})
    return hold


def lift_hold(user: User, reference: str, reason: str | None) -> None:
    subjects.require_privacy(user)
    with transaction():
        case = _case(reference)
        lock_case(case.id)
        hold = db.session.get(LegalHold, case.id)
        if hold is None:
            raise NotFound("Ce dossier n'est pas sous conservation légale.")
        db.session.delete(hold)
        audit.record(case, user.username, "legal_hold_lifted", data={"reason": (reason or "").strip()[:2000]})


def _case(reference: str) -> Case:
    case = db.session.scalars(select(Case).where(Case.reference == (reference or "").strip())).first()
    if case is None:
        raise NotFound("Dossier inconnu.")
    return case


def held_cases() -> list[tuple[str, LegalHold]]:
    """The cases under legal hold, newest first, with their reference."""
    rows = db.session.execute(select(Case.reference, LegalHold).join(LegalHold, LegalHold.case_id == Case.id)
                              .order_by(LegalHold.set_at.desc()))
    return [(reference, hold) for reference, hold in rows]
