"""What the case and task pages show: labelled data, the timeline and the diagram highlights (read only)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app import formatting
from app.extensions import db
from app.labels import (
    EVENT_LABELS,
    HIDDEN_EVENTS,
    OUTBOX_CHANNEL_LABELS,
    STATUS_LABELS,
    SYSTEM_LABELS,
    actor_label,
    group_label,
)
from app.models import Attachment, AuditEvent, Case, Comment, OutboxMessage, TaskRow
from app.services.core import audit, definitions
from app.vocabulary import PARIS

_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@dataclass
class Entry:
    """One line of a case's timeline."""

    at: datetime
    actor: str
    type: str
    label: str
    detail: str = ""
    step: str | None = None
    values: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None  # a letter's text
    seq: int = 0
    pending_acceptance: bool = False  # a public-form submission staff have not accepted yet
    reference: str | None = None  # another case this event links to (the dispute it opened, the origin)


@dataclass
class Linked:
    """A case of the same thread: the complaint a dispute came from, or a dispute a complaint opened."""

    reference: str
    relation: str
    status: str
    completed: bool


def labels_for(case: Case) -> dict[str, tuple[str, dict]]:
    """Field name -> (French label, {option id: option name}) from every form of the pinned version."""
    pspec = definitions.spec_for(case.definition)
    forms = [pspec.start_form] + [t["form"] for t in pspec.user_tasks.values()]
    found: dict[str, tuple[str, dict]] = {}
    for form in forms:
        for spec in form:
            found.setdefault(spec.name, (spec.label, dict(spec.options)))
    return found


def show(value, options: dict | None = None, label: str = "") -> str:
    """A stored value as French text (an amount when the label says €)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, (int, float)) and "€" in label:
        return formatting.format_amount(value)
    if isinstance(value, float):
        return formatting.format_number(value, 2)
    if isinstance(value, int):
        return formatting.format_number(value)
    if options and str(value) in options:
        return options[str(value)]
    if isinstance(value, str) and _ISO_MOMENT.match(value):
        try:
            return datetime.fromisoformat(value).astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
        except ValueError:
            return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return f"{value[8:10]}/{value[5:7]}/{value[:4]}"
    return str(value)


def labelled_data(case: Case) -> list[tuple[str, str, str]]:
    """(name, label, shown value) for each data key, form fields first in their form order."""
    labels = labels_for(case)
    data = case.data or {}
    known = [(n, labels[n][0], show(data[n], labels[n][1], labels[n][0])) for n in labels if n in data]
    # keys the process sets itself: only those with a French name (the others are internals: last_message…)
    others = [(n, SYSTEM_LABELS[n], show(v, STATUS_LABELS if n == "status" else None))
              for n, v in sorted(data.items()) if n not in labels and n in SYSTEM_LABELS
              and not isinstance(v, (dict, list))]
    return known + others


def timeline(case: Case) -> list[Entry]:
    """The case's history: audit events, with the text of the messages sent to the complainant."""
    labels = labels_for(case)
    pspec = definitions.spec_for(case.definition)
    letters = {m.id: m for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id))}
    entries = []
    events = list(audit.history(case.id))
    accepted = accepted_submissions(events)
    for event in events:
        if event.type in HIDDEN_EVENTS and not _named_steps(event):
            continue
        entry = _entry(event, labels, pspec, letters)
        if event.type == "public_intake_merged":
            if event.seq in accepted:
                entry.label = "Dépôt du formulaire public (accepté)"
            else:
                entry.pending_acceptance = True
        entries.append(entry)
    return entries


def accepted_submissions(events) -> set[int]:
    """The seqs of the public-form submissions merged into a case that staff accepted."""
    return {int((e.data or {}).get("seq") or 0) for e in events if e.type == "public_intake_accepted"}


def _named_steps(event: AuditEvent) -> list[str]:
    return [p["name"] for p in (event.data or {}).get("path", []) if p.get("name") and "Task" in p.get("type", "")]


def _entry(event: AuditEvent, labels: dict, pspec, letters: dict) -> Entry:
    data = event.data or {}
    step = pspec.user_tasks.get(event.bpmn_id or "", {}).get("name") if event.bpmn_id else None
    entry = Entry(at=event.at, actor=actor_label(event.actor), type=event.type,
                  label=EVENT_LABELS.get(event.type, event.type), step=step, seq=event.seq)
    if event.type == "task_completed":
        entry.values = [(labels.get(k, (k, {}))[0], show(v, labels.get(k, (k, {}))[1], labels.get(k, (k,))[0]))
                        for k, v in (data.get("submitted") or {}).items() if k in labels]
    elif event.type in ("message_sent", "reply_sent"):
        letter = letters.get(data.get("outbox_id"))
        channel = OUTBOX_CHANNEL_LABELS.get(data.get("channel"), "")
        entry.detail = f"{data.get('subject', '')} ({channel} → {data.get('recipient') or '—'})"
        entry.body = letter.body if letter is not None else None
    elif event.type == "message_delivered":
        number = f", suivi n° {data['tracking_number']}" if data.get("tracking_number") else ""
        entry.detail = f"{data.get('channel')} → {data.get('recipient') or '—'}{number}"
    elif event.type == "reply_draft_saved":
        entry.detail = str(data.get("subject") or "")
    elif event.type == "status_changed":
        entry.detail = f"{STATUS_LABELS.get(data.get('from'), data.get('from'))} → " \
                       f"{STATUS_LABELS.get(data.get('to'), data.get('to'))}"
    elif event.type in ("task_claimed", "task_reassigned"):
        entry.detail = f"attribuée à {data.get('assignee')}"
    elif event.type == "task_released":
        entry.detail = f"libérée par {actor_label(event.actor)} (détenue par {data.get('previous')})"
    elif event.type == "comment_added":
        entry.body = data.get("text")
    elif event.type == "attachment_added":
        entry.detail = f"{data.get('filename')} ({data.get('size')} octets)"
    elif event.type in ("complainant_message", "complaint_contested"):
        entry.body = data.get("text")
        entry.detail = f"par e-mail : {data.get('subject') or '(sans objet)'}" if data.get("channel") == "email" else ""
    elif event.type == "mail_attachment_refused":
        entry.detail = f"{data.get('filename')} : {data.get('reason')}"
    elif event.type == "mail_auto_reply":
        entry.detail = f"{data.get('subject') or '(sans objet)'} — {data.get('reason')}"
    elif event.type == "message_bounced":
        entry.detail = f"{data.get('recipient')} : {data.get('status') or ''} {data.get('diagnostic') or ''}".strip()
    elif event.type == "complainant_attachment":
        entry.detail = f"{data.get('filename')} ({data.get('size')} octets)"
        entry.body = data.get("text") or None
    elif event.type == "public_intake_accepted":
        entry.detail = f"dépôt n° {data.get('seq')} : visible du réclamant sur sa page de suivi"
    elif event.type in ("intake_linked", "public_intake_merged"):
        channels = labels.get("channel", ("", {}))[1]
        entry.detail = f"par le canal « {channels.get(data.get('channel'), '—')} »"
        entry.values = [(labels.get(k, (k, {}))[0], show(v, labels.get(k, (k, {}))[1], labels.get(k, (k,))[0]))
                        for k, v in (data.get("data") or {}).items() if k in labels]
    elif event.type == "possible_duplicates":
        entry.detail = "; ".join(f"{c.get('reference')} ({', '.join(c.get('reasons') or [])})"
                                 for c in data.get("candidates") or [])
    elif event.type == "dispute_opened":
        entry.reference = data.get("reference")
        entry.detail = "Litige ouvert : "
    elif event.type == "incident":
        entry.detail = str(data.get("error") or "")
    elif event.type == "case_escalated":
        entry.body = data.get("reason")
        entry.detail = f"depuis « {data.get('task') or '—'} »"
    elif event.type in ("engine_steps", "timer_fired", "timer_checked"):
        entry.detail = ", ".join(_named_steps(event))
    return entry


def thread(case: Case) -> list[Linked]:
    """The other cases of the complainant's thread: the origin of this case, and the cases it opened."""
    found = []
    if case.parent is not None:
        found.append(Linked(case.parent.reference, f"{_process_name(case.parent)} d’origine",
                            STATUS_LABELS.get(case.parent.status, case.parent.status), case.parent.completed))
    for child in db.session.scalars(select(Case).where(Case.parent_id == case.id).order_by(Case.id)):
        found.append(Linked(child.reference, f"{_process_name(child)} ouvert par ce dossier",
                            STATUS_LABELS.get(child.status, child.status), child.completed))
    return found


def _process_name(case: Case) -> str:
    return definitions.spec_for(case.definition).name or "Dossier"


def attachments(case: Case) -> list[Attachment]:
    return list(db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                   .order_by(Attachment.uploaded_at, Attachment.id)))


def complainant_files(case: Case) -> list[dict]:
    """Files the complainant sent from the tracking page (kept in audit events): seq, name, size, date."""
    found = []
    for event in audit.history(case.id):
        if event.type == "complainant_attachment" and (event.data or {}).get("stored_name"):
            found.append({"seq": event.seq, "filename": event.data.get("filename"), "size": event.data.get("size"),
                          "at": event.at})
    return found


def comments(case: Case) -> list[Comment]:
    return list(db.session.scalars(select(Comment).where(Comment.case_id == case.id)
                                   .order_by(Comment.created_at, Comment.id)))


def current_tasks(case: Case) -> list[TaskRow]:
    return list(db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "ready")
                                   .order_by(TaskRow.created_at)))


def diagram(case: Case) -> dict:
    """The pinned version's XML, the elements already passed (from the audit paths) and the current steps."""
    completed: list[str] = []
    stuck = None
    for event in audit.history(case.id):
        for entry in (event.data or {}).get("path", []):
            if entry.get("bpmn_id") and entry["bpmn_id"] not in completed:
                completed.append(entry["bpmn_id"])
        if event.type == "incident":
            stuck = event.bpmn_id
    current = [t.bpmn_id for t in current_tasks(case)]
    incident = {"element": stuck, "error": case.incident} if case.incident else None
    # the lanes are named after group ids: the diagram people read names the groups in French
    xml = re.sub(r'(<(?:bpmn:)?lane\b[^>]*\bname=")([^"]*)(")',
                 lambda m: m.group(1) + group_label(m.group(2)) + m.group(3), case.definition.xml)
    return {"reference": case.reference, "process": case.process_key, "version": case.definition.version,
            "xml": xml, "completed": completed, "current": current, "incident": incident}
