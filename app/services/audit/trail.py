"""What auditors read: a case's timeline and path, cross-case event search, and the trail export.

Read-only: nothing here writes. The export carries every field the hash covers, so `verify_export`
recomputes each hash from the exported JSON alone.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, distinct, func, select

from app.extensions import db
from app.models import AuditEvent, Case, ProcessDefinition
from app.services.audit.replay import ReplayError, case_by_reference, tokens_by_event
from app.services.core import audit, bounds, csv_export
from app.services.core.errors import Invalid
from app.vocabulary import PARIS

EXPORT_FORMAT = "reclamations-audit-trail/1"
CSV_COLUMNS = ("seq", "at", "actor", "type", "bpmn_id", "task", "definition_id", "data", "prev_hash", "hash",
               "data_shown")
PAGE_SIZE = 50


def _iso(value):
    return value.isoformat() if value is not None else None


def event_dict(event: AuditEvent) -> dict:
    """Every field of an event, including those its hash covers: `data` as stored and hashed (personal values
    sealed), and `data_shown` with them opened for reading (not hashed; absent when nothing is sealed)."""
    item = {"case": event.case_reference, "seq": event.seq, "at": _iso(event.at), "actor": event.actor,
            "type": event.type, "task": event.task_id, "bpmn_id": event.bpmn_id,
            "definition_id": event.definition_id, "data": event.sealed, "prev_hash": event.prev_hash,
            "hash": event.hash}
    if event.data is not event.sealed:
        item["data_shown"] = event.data
    return item


# --- one case -------------------------------------------------------------------------------------------

@dataclass
class Timeline:
    case: Case
    events: list[AuditEvent]
    shown: list[AuditEvent]
    types: list[str]
    actors: list[str]
    versions: dict[int, int]


def timeline(reference: str, types: list[str] | None = None, actor: str | None = None) -> Timeline:
    """A case's events, filtered by type and actor, with the facets to filter on."""
    case = case_by_reference(reference)
    events = audit.history(case.id)
    shown = [e for e in events if (not types or e.type in types) and (not actor or e.actor == actor)]
    ids = {e.definition_id for e in events if e.definition_id}
    versions = dict(db.session.execute(select(ProcessDefinition.id, ProcessDefinition.version)
                                       .where(ProcessDefinition.id.in_(ids or [0]))).all())
    return Timeline(case, events, shown, sorted({e.type for e in events}), sorted({e.actor for e in events}),
                    versions)


def steps(case: Case, events: list[AuditEvent]) -> list[dict]:
    """For each event: the elements completed so far with their visit counts and the gateway branches taken
    (from the recorded paths), the elements the step went through, and the active tokens after it (replay)."""
    try:
        tokens = tokens_by_event(case, events)
    except (ReplayError, LookupError, ValueError):
        tokens = {}
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
                      "active": tokens.get(event.seq, [])})
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


# --- export ----------------------------------------------------------------------------------------------

def export_trail(reference: str) -> dict:
    """A case's full trail as a JSON document that can be verified without the database."""
    case = case_by_reference(reference)
    events = audit.history(case.id)
    definition = db.session.get(ProcessDefinition, events[0].definition_id) if events else case.definition
    return {
        "format": EXPORT_FORMAT, "reference": case.reference, "process": case.process_key,
        "version": definition.version, "definition_sha256": definition.sha256,
        "head": events[-1].hash if events else audit.GENESIS, "count": len(events),
        "events": [event_dict(e) for e in events],
    }


def export_csv(reference: str) -> str:
    """A case's full trail as CSV (data as hashed, and as read, as JSON in one column each), formulas neutralised
    like every export; the JSON export is the one whose hashes can be re-verified byte for byte."""
    items = [{**item, "data_shown": item.get("data_shown", item["data"])} for item in export_trail(reference)["events"]]
    rows = ([json.dumps(item[c], ensure_ascii=False, sort_keys=True) if c in ("data", "data_shown") else item[c]
             for c in CSV_COLUMNS] for item in items)
    return csv_export.document(CSV_COLUMNS, rows)


def verify_export(document: dict | str) -> list[str]:
    """Recompute every hash and link of an exported trail; the list of problems is empty when intact."""
    doc = json.loads(document) if isinstance(document, str) else document
    if doc.get("format") != EXPORT_FORMAT:
        return ["format inconnu"]
    problems, previous = [], audit.GENESIS
    for index, item in enumerate(doc.get("events") or [], start=1):
        event = AuditEvent(case_reference=item["case"], seq=item["seq"], at=datetime.fromisoformat(item["at"]),
                           actor=item["actor"], type=item["type"], task_id=item["task"], bpmn_id=item["bpmn_id"],
                           definition_id=item["definition_id"], data=item["data"], prev_hash=item["prev_hash"])
        if item["seq"] != index:
            problems.append(f"événement {item['seq']} : séquence attendue {index}")
        if item["prev_hash"] != previous:
            problems.append(f"événement {item['seq']} : lien vers l'événement précédent rompu")
        if audit.compute_hash(event) != item["hash"]:
            problems.append(f"événement {item['seq']} : contenu modifié (empreinte invalide)")
        previous = item["hash"]
    if doc.get("head") != previous:
        problems.append("la tête de chaîne annoncée ne correspond pas au dernier événement")
    return problems
