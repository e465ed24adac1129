"""Erasure of a person's data, on request or when the retention period ends, keeping the trail verifiable.

What goes, for each case: the case's data key (so every sealed value of its audit trail becomes unreadable),
the personal values of its data, columns and workflow state (replaced by ERASED, which is what a replay of the
sealed trail now yields, so `audit verify` and `audit replay` still pass), its task rows' names and drafts,
its messages' recipients and texts, its comments, its attachments and the files complainants sent, its
notifications' texts, its stored verification details and archived states, the mailbox archive's sender,
subject and kept raw message of the mails it received.
What stays: the case itself with its reference, dates, channel, category, amounts and outcome, the task rows,
the audit chain (hashes, event types, dates, actors), so the indicators and the history of interventions stay.
What refuses: an open case (its process still needs the data), a case under legal hold.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update

from app import clock
from app.extensions import db
from app.models import (
    BUSINESS_FIELDS,
    Attachment,
    AuditEvent,
    Case,
    CaseVerification,
    Comment,
    IngestedMail,
    LegalHold,
    Notification,
    OutboxMessage,
    ReplyDraft,
    TaskRow,
    WorkflowStateArchive,
)
from app.models.privacy import ERASED
from app.services.cases import notes
from app.services.core import audit, personal
from app.services.core.case_lock import lock_case
from app.services.core.case_rules import column_value
from app.services.core.transaction import transaction

log = logging.getLogger("reclamations.privacy")
STATE_KEYS = ("data", "payload")  # where a serialized workflow keeps case values


@dataclass
class CasePlan:
    """What erasure would do to one case, or why it will not."""

    reference: str
    process_key: str
    status: str
    closed_at: object
    erasable: bool
    why_not: str | None = None
    goes: list[str] = field(default_factory=list)
    stays: list[str] = field(default_factory=list)


STAYS = ["la référence, les dates, le canal, la catégorie, les montants et l'issue du dossier (indicateurs)",
         "l'historique des interventions : types d'événements, dates, auteurs, empreintes de la chaîne d'audit"]


def plan(case: Case) -> CasePlan:
    """Preview one case: erasable or not, and what goes and stays."""
    held = db.session.get(LegalHold, case.id)
    result = CasePlan(case.reference, case.process_key, case.status, case.closed_at, erasable=True, stays=list(STAYS))
    if case.erased_at is not None:
        result.erasable, result.why_not = False, "Données déjà effacées."
    elif held is not None:
        result.erasable, result.why_not = False, f"Conservation pour motif légal : {held.reason}"
    elif not case.completed:
        kind = "un litige ouvert" if case.process_key == "litige" else "un dossier en cours"
        result.erasable, result.why_not = False, (f"C'est {kind} : l'effacement est reporté à sa clôture "
                                                  "(les données sont encore nécessaires à son traitement).")
    counts = _counts(case)
    result.goes = [f"nom, coordonnées et textes du réclamant dans le dossier et son historique ({counts['events']} "
                   "événements scellés)",
                   f"{counts['messages']} message(s) et courrier(s) : destinataire et contenu",
                   f"{counts['attachments']} pièce(s) jointe(s) et {counts['files']} fichier(s) déposé(s) par le "
                   "réclamant", f"{counts['comments']} commentaire(s) interne(s)"]
    return result


def _counts(case: Case) -> dict:
    def count(model, *where):
        return db.session.scalar(select(db.func.count()).select_from(model).where(*where)) or 0
    return {"events": count(AuditEvent, AuditEvent.case_id == case.id),
            "messages": count(OutboxMessage, OutboxMessage.case_id == case.id),
            "attachments": count(Attachment, Attachment.case_id == case.id),
            "comments": count(Comment, Comment.case_id == case.id),
            "files": len(_public_files(case))}


def _public_files(case: Case) -> list[str]:
    """The stored names of the files complainants sent (described by audit events, not attachment rows)."""
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                       AuditEvent.type == "complainant_attachment"))
    return [e.sealed.get("stored_name") for e in rows if isinstance(e.sealed, dict) and e.sealed.get("stored_name")]


def _anonymise_state(state: str, declared, denied) -> str:
    def walk(value):
        if isinstance(value, dict):
            return {k: personal.anonymise(v, declared, denied, ERASED) if k in STATE_KEYS and isinstance(v, dict)
                    else walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value
    return json.dumps(walk(json.loads(state)))


def erase_case(case_id: int, actor: str, reason: str, request_id: int | None = None) -> list[str]:
    """Erase one closed case's personal data in one transaction; return the stored files to delete after commit."""
    case = lock_case(case_id)
    preview = plan(case)
    if not preview.erasable:
        raise ValueError(preview.why_not)
    now = clock.now()
    declared, denied = personal.personal_names(case)
    files = _public_files(case)
    case.data = personal.anonymise(dict(case.data or {}), declared, denied, ERASED)
    for name in BUSINESS_FIELDS:
        if personal.is_personal(name, declared, denied) and getattr(case, name) not in (None, ""):
            setattr(case, name, column_value(name, ERASED))
    state = case.workflow_state
    if state is not None:
        state.state = _anonymise_state(state.state, declared, denied)
    for archived in db.session.scalars(select(WorkflowStateArchive).where(WorkflowStateArchive.case_id == case.id)):
        archived.state = _anonymise_state(archived.state, declared, denied)
    db.session.execute(update(TaskRow).where(TaskRow.case_id == case.id)
                       .values(customer_name=ERASED, customer_key=None, draft=None)
                       .execution_options(synchronize_session="fetch"))
    db.session.execute(update(OutboxMessage).where(OutboxMessage.case_id == case.id)
                       .values(recipient=ERASED, subject=f"[{case.reference}] {ERASED}", body=ERASED,
                               body_html=None, recipient_name=ERASED, postal_address=None, last_error=None)
                       .execution_options(synchronize_session="fetch"))
    db.session.execute(delete(ReplyDraft).where(ReplyDraft.case_id == case.id))
    for mail in db.session.scalars(select(IngestedMail).where(IngestedMail.case_id == case.id)):
        if mail.stored_name:  # a raw message kept while it was quarantined
            files.append(mail.stored_name)
        mail.sender_address, mail.sender_name, mail.subject, mail.stored_name = ERASED, ERASED, ERASED, None
        mail.references, mail.reason = None, None
    db.session.execute(update(Comment).where(Comment.case_id == case.id).values(body=ERASED)
                       .execution_options(synchronize_session="fetch"))
    db.session.execute(update(Notification).where(Notification.case_id == case.id)
                       .values(text=f"Dossier {case.reference} : {ERASED}")
                       .execution_options(synchronize_session="fetch"))
    verification = db.session.get(CaseVerification, case.id)
    if verification is not None:
        verification.differences = []
    for attachment in db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)):
        files.append(attachment.stored_name)
        attachment.filename = ERASED
    case.data_key = None  # crypto-shredding: the sealed values of the trail can no longer be opened
    case.erased_at = now
    audit.record(case, actor, "personal_data_erased", data={"reason": reason, "request": request_id})
    return files


def delete_files(stored_names: list[str]) -> None:
    """Delete stored files after the erasure committed (a crash before leaves files a sweep can remove)."""
    folder = notes.storage_dir()
    for name in stored_names:
        (folder / name).unlink(missing_ok=True)


def erase(case_ids: list[int], actor: str, reason: str, request_id: int | None = None) -> tuple[list[str], dict]:
    """Erase each case in its own transaction; return (erased references, {reference: why not})."""
    done, refused = [], {}
    for case_id in case_ids:
        try:
            with transaction():
                reference = db.session.get(Case, case_id).reference
                files = erase_case(case_id, actor, reason, request_id)
        except ValueError as exc:
            refused[db.session.get(Case, case_id).reference] = str(exc)
            continue
        delete_files(files)
        done.append(reference)
    if done:
        _scrub_free_space()
    return done, refused


def _scrub_free_space() -> None:
    """SQLite: zero the freed pages (secure_delete is on for every connection) and truncate the WAL, so that
    no earlier copy of an erased value stays in the files. PostgreSQL: dead row versions are not in dumps and
    autovacuum reclaims them."""
    if db.session.get_bind().dialect.name != "sqlite":
        return
    db.session.rollback()
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    log.info("sqlite WAL truncated after erasure")
