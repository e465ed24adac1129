"""The reply composer: staff write to the complainant from the case page, from a template or freely.

Who may write: the holders of the case's open tasks, the groups of those tasks, `responsable` and admin (never a
read-only auditor). The text is plain text or the small safe HTML subset (rendering.sanitize); picking a
template fills the form with that template rendered for the case, which staff then edit, so what the preview
shows is exactly what is sent: sending checks the previewed digest. A sent reply goes through the outbox like
the step letters (proof of sending, PDF for a letter) and is recorded as `reply_sent`; a draft stays out of the
outbox (`reply_draft`) and is recorded as `reply_draft_saved`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Attachment, Case, OutboxMessage, ReplyDraft, TaskRow, User
from app.services.cases.lifecycle import get_case
from app.services.core import audit, bounds
from app.services.core.case_lock import lock_case
from app.services.core.errors import Forbidden, Invalid, NotFound
from app.services.core.transaction import transaction
from app.services.messaging import messages, templates
from app.services.messaging.rendering import staff_body
from app.vocabulary import is_read_only

REPLY_GROUPS = ("responsable",)  # besides the holders and groups of the open tasks (admin is in every group)
CHANNELS = {"email": "E-mail", "letter": "Courrier", "registered_letter": "Lettre recommandée"}
MAX_BODY = 20000
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass
class Reply:
    """What staff typed: validated, with the text and HTML parts that will be sent."""

    channel: str
    subject: str
    source: str
    template_key: str | None = None
    attachment_ids: list[int] = field(default_factory=list)
    draft_id: int | None = None
    text: str = ""
    html: str = ""

    def digest(self) -> str:
        """What the preview showed: sending refuses anything else."""
        payload = [self.channel, self.subject, self.text, self.html, sorted(self.attachment_ids)]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def can_reply(user: User, case: Case) -> bool:
    """The case's task holders and groups, `responsable` and admin; never a read-only user."""
    if is_read_only(user):
        return False
    if user.in_any(*REPLY_GROUPS):
        return True
    tasks = db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "ready"))
    return any(t.assignee == user.username or (t.lane and t.lane in user.groups) for t in tasks)


def _case_for(user: User, reference: str) -> Case:
    case = get_case(reference)
    if not can_reply(user, case):
        raise Forbidden("Seuls les détenteurs des tâches du dossier, son groupe et le responsable peuvent écrire "
                        "au réclamant.")
    return case


def channels(case: Case) -> dict[str, str]:
    """The channels this case's complainant can be reached by (an e-mail address, a postal address)."""
    data = case.data or {}
    found = {}
    if _EMAIL.fullmatch((data.get("customer_email") or case.customer_email or "").strip()):
        found["email"] = CHANNELS["email"]
    if (data.get("customer_address") or "").strip():
        found["letter"] = CHANNELS["letter"]
        found["registered_letter"] = CHANNELS["registered_letter"]
    return found


def case_files(case: Case) -> list[Attachment]:
    return list(db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                   .order_by(Attachment.uploaded_at, Attachment.id)))


def composer(user: User, reference: str) -> dict:
    """Everything the composer page needs: channels, templates, the case's field values, files, drafts."""
    case = _case_for(user, reference)
    values = messages.fields(case)
    return {
        "case": case, "channels": channels(case),
        "templates": [t for t in templates.catalogue() if t.kind != "partial"],
        "fields": [(name, label.split(" (")[0], values.get(name)) for name, label in templates.FIELDS.items()
                   if name not in ("postal", "decision") and isinstance(values.get(name), str) and values.get(name)],
        "files": case_files(case), "drafts": drafts(case, user),
    }


def from_template(user: User, reference: str, key: str, channel: str) -> tuple[str, str]:
    """A template rendered for the case, to start the reply from: (subject, text)."""
    case = _case_for(user, reference)
    row = templates.active(key)
    if row.kind == "partial":
        raise NotFound("Modèle de message inconnu.")
    rendered = templates.render(row, messages.fields(case, postal=channel in messages.POSTAL_CHANNELS))
    return rendered.subject, rendered.text


def read(case: Case, raw: dict, *, draft: bool = False) -> Reply:
    """Validate what was typed (French errors by field; a draft may be incomplete); nothing is written."""
    errors = {}
    channel = (raw.get("channel") or "").strip()
    available = channels(case)
    if channel not in CHANNELS:
        if draft:
            channel = next(iter(available), "letter")
        else:
            errors["channel"] = "Choisissez l'envoi : e-mail, courrier ou lettre recommandée."
    elif channel not in available and not draft:
        errors["channel"] = ("Le réclamant n'a pas d'adresse e-mail valide." if channel == "email"
                             else "Le réclamant n'a pas d'adresse postale : le courrier ne peut pas partir.")
    subject = " ".join((raw.get("subject") or "").split())
    if not subject and not draft:
        errors["subject"] = "L'objet est obligatoire."
    elif len(subject) > 300:
        errors["subject"] = "300 caractères au maximum."
    source = (raw.get("body") or "").replace("\r\n", "\n")
    if not source.strip() and not draft:
        errors["body"] = "Le texte de la réponse est vide."
    elif len(source) > MAX_BODY or "\x00" in source:
        errors["body"] = f"{MAX_BODY} caractères au maximum, sans caractères de contrôle."
    key = (raw.get("template_key") or "").strip() or None
    if key and templates.active(key, missing_ok=True) is None:
        errors["template_key"] = "Modèle inconnu."
    try:
        wanted = sorted({int(i) for i in raw.get("attachments") or []})
    except (TypeError, ValueError):
        wanted, errors["attachments"] = [], "Pièce jointe inconnue."
    known = {a.id for a in case_files(case)}
    if set(wanted) - known:
        errors["attachments"] = "Pièce jointe inconnue pour ce dossier."
    try:
        draft_id = int(raw["draft_id"]) if raw.get("draft_id") else None
    except ValueError:
        draft_id = None
    if errors:
        raise Invalid(errors, "La réponse contient des erreurs : corrigez les champs signalés.")
    reply = Reply(channel=channel, subject=subject, source=source, template_key=key, attachment_ids=wanted,
                  draft_id=draft_id)
    reply.text, reply.html = staff_body(source)
    return reply


def preview(user: User, reference: str, raw: dict) -> tuple[Case, Reply]:
    """The reply exactly as it will be sent (its digest goes into the send form)."""
    case = _case_for(user, reference)
    return case, read(case, raw)


def outbox_row(case: Case, reply: Reply) -> OutboxMessage:
    """The outbox message of a reply (not added to the session): also what the PDF preview renders."""
    data = case.data or {}
    row = templates.active(reply.template_key, missing_ok=True) if reply.template_key else None
    email = (data.get("customer_email") or case.customer_email or "").strip()
    postal = reply.channel in messages.POSTAL_CHANNELS
    return OutboxMessage(
        case_id=case.id, template="reply", channel=reply.channel,
        recipient=email if not postal else (data.get("customer_address") or case.customer_name),
        subject=reply.subject, body=reply.text, body_html=reply.html,
        template_version_id=row.id if row is not None else None,
        recipient_name=data.get("customer_name") or case.customer_name, postal_address=data.get("customer_address"),
        attachment_ids=reply.attachment_ids or None, status="pending", created_at=clock.now(),
        next_attempt_at=clock.now())


def send(user: User, reference: str, raw: dict, previewed: str | None) -> OutboxMessage:
    """Send the reply through the outbox, if it is exactly what the preview showed."""
    case = _case_for(user, reference)
    reply = read(case, raw)
    if not previewed or previewed != reply.digest():
        raise Invalid({"preview": "Le texte a changé depuis l'aperçu : vérifiez l'aperçu, puis envoyez."},
                      "Vérifiez l'aperçu avant d'envoyer.")
    with transaction():
        case = lock_case(case.id)  # the case row lock before its writes (case_lock)
        message = outbox_row(case, reply)
        db.session.add(message)
        db.session.flush()
        audit.record(case, user.username, "reply_sent", data={
            "outbox_id": message.id, "channel": message.channel, "recipient": message.recipient,
            "subject": message.subject, "template": reply.template_key,
            "template_version_id": message.template_version_id, "attachment_ids": reply.attachment_ids,
            "body_sha256": hashlib.sha256(message.body.encode()).hexdigest()})
        if reply.draft_id is not None:
            draft = db.session.get(ReplyDraft, reply.draft_id)
            if draft is not None and draft.case_id == case.id and draft.author == user.username:
                db.session.delete(draft)
    return message


def save_draft(user: User, reference: str, raw: dict) -> ReplyDraft:
    """Keep an unfinished reply (the author's own); a draft is never sent nor shown to the complainant."""
    case = _case_for(user, reference)
    reply = read(case, raw, draft=True)
    if not reply.subject and not reply.source.strip():
        raise Invalid({"body": "Le brouillon est vide."}, "Rien à enregistrer : le brouillon est vide.")
    with transaction():
        case = lock_case(case.id)
        now = clock.now()
        draft = db.session.get(ReplyDraft, reply.draft_id) if reply.draft_id else None
        if draft is None or draft.case_id != case.id or draft.author != user.username:
            draft = ReplyDraft(case_id=case.id, author=user.username, created_at=now)
            db.session.add(draft)
        draft.channel, draft.subject, draft.body = reply.channel, reply.subject or "", reply.source
        draft.template_key, draft.attachment_ids, draft.updated_at = reply.template_key, reply.attachment_ids, now
        db.session.flush()
        audit.record(case, user.username, "reply_draft_saved", data={
            "draft_id": draft.id, "subject": draft.subject, "channel": draft.channel})
    return draft


def drafts(case: Case, user: User) -> list[ReplyDraft]:
    return list(db.session.scalars(select(ReplyDraft).where(ReplyDraft.case_id == case.id,
                                                            ReplyDraft.author == user.username)
                                   .order_by(ReplyDraft.updated_at.desc())))


def get_draft(user: User, reference: str, draft_id: int) -> ReplyDraft:
    case = _case_for(user, reference)
    if not 0 < draft_id <= bounds.MAX_ID:  # beyond an INTEGER column: no such draft (never an overflow)
        raise NotFound("Brouillon inconnu.")
    found = db.session.get(ReplyDraft, draft_id)
    if found is None or found.case_id != case.id or found.author != user.username:
        raise NotFound("Brouillon inconnu.")
    return found


def letter_preview(user: User, reference: str, raw: dict) -> tuple[bytes, str]:
    """The PDF the letter will be (nothing is kept)."""
    from app.services.messaging import letters

    case, reply = preview(user, reference, raw)
    message = outbox_row(case, reply)
    message.id = 0
    return letters.render_pdf(message, case), f"apercu-{case.reference}.pdf"
