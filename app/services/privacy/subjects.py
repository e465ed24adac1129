"""Find a person's cases and answer a subject-access request; every search and answer is recorded.

Only the `dpo` group (the data protection officer) and `admin` may search, download, erase or set legal holds.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import datetime

from flask import render_template
from sqlalchemy import func, or_, select

from app import clock
from app.extensions import db
from app.models import Attachment, AuditEvent, Case, Comment, OutboxMessage, PrivacyRequest, User
from app.services.cases import notes
from app.services.core.errors import Forbidden, Invalid
from app.services.core.search import like_escape
from app.services.core.transaction import transaction
from app.vocabulary import PRIVACY_GROUPS

MAX_CASES = 500


def require_privacy(user: User) -> None:
    if not user.in_any(*PRIVACY_GROUPS):
        raise Forbidden("Réservé au délégué à la protection des données.")


def subject_hash(term: str) -> str:
    """What a request keeps of the person it was about: a hash of the normalised search term, never the term."""
    return hashlib.sha256(normalise(term).encode("utf-8")).hexdigest()


def normalise(term: str | None) -> str:
    return " ".join((term or "").strip().lower().split())


def find_cases(user: User, email: str | None = None, name: str | None = None, phone: str | None = None) -> list[Case]:
    """The cases held about a person, by e-mail (exact), name (contains) or phone (digits), with their disputes."""
    require_privacy(user)
    email, name = normalise(email), normalise(name)
    digits = re.sub(r"\D", "", phone or "")
    if not (email or len(name) >= 3 or len(digits) >= 6):
        raise Invalid({"email": "Indiquez une adresse e-mail, un nom (3 lettres au moins) ou un téléphone."})
    conditions = []
    if email:
        conditions.append(func.lower(Case.customer_email) == email)
    if name:
        conditions.append(func.lower(Case.customer_name).like("%" + like_escape(name) + "%", escape="\\"))
    if digits:
        conditions.append(func.replace(func.replace(func.replace(Case.customer_phone, " ", ""), ".", ""), "-", "")
                          .like("%" + digits[-9:]))
    found = list(db.session.scalars(select(Case).where(or_(*conditions)).order_by(Case.created_at).limit(MAX_CASES)))
    ids = {c.id for c in found}
    children = db.session.scalars(select(Case).where(Case.parent_id.in_(ids), Case.id.not_in(ids))) if ids else []
    return found + list(children)


def _case_document(case: Case) -> dict:
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq))
    return {
        "reference": case.reference, "process": case.process_key, "status": case.status,
        "received_at": _iso(case.received_at), "closed_at": _iso(case.closed_at),
        "customer": {"name": case.customer_name, "email": case.customer_email, "phone": case.customer_phone},
        "data": case.data,
        "history": [{"at": _iso(e.at), "actor": e.actor, "type": e.type, "data": e.data} for e in events],
        "messages": [{"at": _iso(m.created_at), "channel": m.channel, "recipient": m.recipient, "subject": m.subject,
                      "body": m.body, "status": m.status, "sent_at": _iso(m.sent_at)}
                     for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)
                                                 .order_by(OutboxMessage.id))],
        "comments": [{"at": _iso(c.created_at), "author": c.author, "text": c.body}
                     for c in db.session.scalars(select(Comment).where(Comment.case_id == case.id))],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def access_archive(user: User, cases: list[Case], term: str) -> bytes:
    """Everything held about the person as one ZIP: a readable summary, the cases as JSON, messages, files."""
    require_privacy(user)
    buffer = io.BytesIO()
    documents = [_case_document(c) for c in cases]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("resume.html", render_template("privacy/summary.html", documents=documents,
                                                        generated_at=clock.now()))
        archive.writestr("dossiers.json", json.dumps(documents, ensure_ascii=False, indent=2, default=str))
        folder = notes.storage_dir()
        for case in cases:
            for message in db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)):
                archive.writestr(f"{case.reference}/messages/{message.id}-{message.template}.txt", message.body)
            for attachment in db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)):
                path = folder / attachment.stored_name
                if path.is_file():
                    archive.write(path, f"{case.reference}/pieces/{attachment.id}-{attachment.filename}")
            for event in db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                                     AuditEvent.type == "complainant_attachment")):
                stored = event.data.get("stored_name")
                if stored and (folder / stored).is_file():
                    archive.write(folder / stored, f"{case.reference}/envois/{event.seq}-{event.data.get('filename')}")
    record_request(user, "access", term, [c.reference for c in cases], {"files": len(documents)})
    return buffer.getvalue()


def record_request(user: User, kind: str, term: str | None, references: list[str], report: dict,
                   reason: str | None = None) -> PrivacyRequest:
    """Keep a privacy request (its own transaction): who, when, why, which cases; the person only as a hash."""
    with transaction():
        request = PrivacyRequest(kind=kind, at=clock.now(), actor=user.username if user else "system",
                                 reason=reason, subject_hash=subject_hash(term) if term else None,
                                 cases=references, report=report)
        db.session.add(request)
    return request


def requests(limit: int = 100) -> list[PrivacyRequest]:
    return list(db.session.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id.desc()).limit(limit)))
