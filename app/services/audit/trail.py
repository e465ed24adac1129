"""What auditors read: a case's timeline and path, cross-case event search, and the trail export.

Read-only: nothing here writes. The signed exports are in exports.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, distinct, func, select

from app.extensions import db
from app.models import AuditEvent, Case, ProcessDefinition
from app.services.audit.checkpoints import ChainStatus, chain_status
from app.services.audit.exports import event_dict
from app.services.audit.replay import ReplayError, case_by_reference, tokens_by_event
from app.services.audit.wording import Words, sort_key
from app.services.core import audit, bounds
from app.services.core.errors import Invalid
from app.vocabulary import PARIS

PAGE_SIZE = 50
__all__ = ["event_dict"]  # the API's event view


def _iso(value):
    return value.isoformat() if value is not None else None


# --- one case -------------------------------------------------------------------------------------------

@dataclass
class Timeline:
    case: Case
    events: list[AuditEvent]
    shown: list[AuditEvent]
    types: list[str]
    actors: list[str]
    versions: dict[int, int]
    words: Words
    chain: ChainStatus


def timeline(reference: str, types: list[str] | None = None, actor: str | None = None) -> Timeline:
    """A case's events, filtered by type and actor, with the facets to filter on."""
    case = case_by_reference(reference)
    events = audit.history(case.id)
    shown = [e for e in events if (not types or e.type in types) and (not actor or e.actor == actor)]
    ids = {e.definition_id for e in events if e.definition_id}
    versions = dict(db.session.execute(select(ProcessDefinition.id, ProcessDefinition.version)
                                       .where(ProcessDefinition.id.in_(ids or [0]))).all())
    words = Words(case, ids)
    types = sorted({e.type for e in events}, key=lambda t: sort_key(words.event(t)))
    return Timeline(case, events, shown, types, sorted({e.actor for e in events}), versions, words,
                    chain_status(case.reference))


def steps(case: Case, events: list[AuditEvent], words: Words | None = None) -> list[dict]:
    """For each event: the elements completed so far with their visit counts and the gateway branches taken
    (from the recorded paths), the elements the step went through, and the active tokens after it (replay)."""
    try:
        tokens = tokens_by_event(case, events)
    except (ReplayError, LookupError, ValueError):
        tokens = {}
    words = words or Words(case, {e.definition_id for e in events if e.definition_id})
    visits: Counter = Counter()
    found, taken = [], []
    for event in events:
        path = (event.data or {}).get("path") or []
        for entry in path:
            visits[entry.get("bpmn_id")] += 1
            for target in entry.get("taken") or []:
                if [entry.get("bpmn_id"), target] not in taken:
                    taken.append([entry.get("bpmn_id"), target])
        found.append({"seq": event.seq, "at": _iso(event.at), "type": event.type, "actor": event.actor,
                      "step": [p.get("bpmn_id") for p in path], "taken": list(taken), "visits": dict(visits),
                      "active": tokens.get(event.seq, []), "caption": words.caption(event)})
    return found


def definition_xml(case: Case) -> str:
    """The BPMN XML of the version the case started on (its pinned version)."""
    first = audit.history(case.id)[:1]
    definition_id = first[0].definition_id if first else case.definition_id
    return db.session.get(ProcessDefinition, definition_id).xml


# --- across cases ----------------------------------------------------------------------------------------

def _moment(value: str | None, field: str, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid({field: "Date ou date-heure ISO attendue (AAAA-MM-JJ)."}) from None
    bounds.check_day(moment, field)
    if len(value) == 10 and end:  # a date as upper bound covers the whole day
        moment = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)  # what French staff mean


def search_events(*, actor=None, type_=None, date_from=None, date_to=None, process=None, version=None,
                  reference=None, page: int = 1, per_page: int = PAGE_SIZE) -> tuple[list[AuditEvent], int]:
    """Events of every case matching the filters, newest first, one page at a time, and the total."""
    query = select(AuditEvent).where(AuditEvent.case_id.is_not(None))
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if type_:
        query = query.where(AuditEvent.type == type_)
    if reference:
        query = query.where(AuditEvent.case_reference == reference)
    start, end = _moment(date_from, "from"), _moment(date_to, "to", end=True)
    if start:
        query = query.where(AuditEvent.at >= start)
    if end:
        query = query.where(AuditEvent.at <= end)
    if process or version:
        definitions = select(ProcessDefinition.id)
        if process:
            definitions = definitions.where(ProcessDefinition.key == process)
        if version:
            number = bounds.whole_number(version, "version", 1, bounds.MAX_ID,
                                         message="Numéro de version attendu (un entier positif).")
            definitions = definitions.where(ProcessDefinition.version == number)
        query = query.where(AuditEvent.definition_id.in_(definitions))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = bounds.page_number(page)
    rows = db.session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                              .limit(per_page).offset((page - 1) * per_page))
    return list(rows), total


def words_for(events: list[AuditEvent]) -> dict[int, Words]:
    """The business words of each case among the events (one per case, for the cross-case search)."""
    found = {}
    for event in events:
        if event.case_id is not None and event.case_id not in found:
            found[event.case_id] = Words(db.session.get(Case, event.case_id))
    return found


def late_messages(template: str = "response") -> list[tuple[AuditEvent, Case]]:
    """Messages of a template sent after the case's due date (e.g. every response sent late)."""
    rows = db.session.execute(
        select(AuditEvent, Case).join(Case, Case.id == AuditEvent.case_id)
        .where(AuditEvent.type == "message_sent", Case.due_at.is_not(None), AuditEvent.at > Case.due_at)
        .order_by(AuditEvent.at.desc())).all()
    return [(event, case) for event, case in rows if (event.data or {}).get("template") == template]


def cases_touched_by(actor: str) -> list[dict]:
    """Every case a user acted on, with how many events and when first and last."""
    if not actor:
        return []
    rows = db.session.execute(
        select(AuditEvent.case_reference, func.count(), func.min(AuditEvent.at), func.max(AuditEvent.at),
               func.count(distinct(AuditEvent.type)))
        .where(and_(AuditEvent.actor == actor, AuditEvent.case_id.is_not(None)))
        .group_by(AuditEvent.case_reference).order_by(func.max(AuditEvent.at).desc())).all()
    return [{"reference": r[0], "events": r[1], "first": r[2], "last": r[3], "types": r[4]} for r in rows]
