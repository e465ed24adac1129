"""The quarantine and journal of incoming mail, for staff: list, open, release (processed normally) or discard."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import Case, IngestedMail, User
from app.services.cases.notes import storage_dir
from app.services.core.errors import Conflict, Forbidden, NotFound
from app.services.core.transaction import transaction
from app.services.mailbox import intake, parsing

# Who reads the mailbox's quarantine (the reception desk registers what arrives; managers; auditors read).
READERS = ("accueil", "responsable", "auditeur")
HANDLERS = ("accueil", "responsable")
STATUS_LABELS = {"case_opened": "Dossier ouvert", "merged": "Rattaché à un dossier ouvert",
                 "threaded": "Réponse rattachée", "auto_reply": "Réponse automatique (enregistrée)",
                 "bounce": "Avis de non-remise", "quarantined": "En quarantaine", "discarded": "Écarté"}


@dataclass
class MailView:
    row: IngestedMail
    reference: str | None
    status_label: str
    text: str = ""
    attachments: list[tuple[str, int]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def size_label(self) -> str:
        """The size in French units: 12 Ko, 3,4 Mo."""
        size = self.row.size or 0
        if size < 1024 * 1024:
            return f"{max(1, round(size / 1024))} Ko"
        return f"{size / 1048576:.1f} Mo".replace(".", ",")


def _check(user: User, groups: tuple[str, ...]) -> None:
    if not user.in_any(*groups):
        raise Forbidden("Réservé à l'accueil et aux responsables.")


def counts(user: User) -> dict[str, int]:
    _check(user, READERS)
    return dict(db.session.execute(select(IngestedMail.status, func.count()).group_by(IngestedMail.status)).all())


def list_mails(user: User, status: str | None = "quarantined", limit: int = 200) -> list[MailView]:
    """Ingested mails, newest first (the quarantine by default; every status with status=None)."""
    _check(user, READERS)
    query = select(IngestedMail, Case.reference).outerjoin(Case, Case.id == IngestedMail.case_id)
    if status:
        query = query.where(IngestedMail.status == status)
    rows = db.session.execute(query.order_by(IngestedMail.id.desc()).limit(limit)).all()
    return [MailView(row, ref, STATUS_LABELS.get(row.status, row.status)) for row, ref in rows]


def _raw(row: IngestedMail) -> bytes | None:
    if not row.stored_name:
        return None
    path = storage_dir() / row.stored_name
    return path.read_bytes() if path.is_file() else None


def get_mail(user: User, mail_id: int) -> MailView:
    """One ingested mail with, while it is held, its text and attachment names (never its HTML)."""
    _check(user, READERS)
    row = db.session.get(IngestedMail, mail_id)
    if row is None:
        raise NotFound("Courriel inconnu.")
    case = db.session.get(Case, row.case_id) if row.case_id else None
    view = MailView(row, case.reference if case else None, STATUS_LABELS.get(row.status, row.status))
    raw = _raw(row)
    if raw is not None:
        parsed = parsing.parse(raw)
        view.text = parsed.text[:20000]
        view.attachments = [(p.filename, len(p.content)) for p in parsed.attachments]
        view.headers = [(k, v) for k, v in (("Message-ID", parsed.message_id), ("In-Reply-To", parsed.in_reply_to),
                                             ("Taille", view.size_label)) if v]
    return view


def _held(mail_id: int) -> IngestedMail:
    row = db.session.get(IngestedMail, mail_id)
    if row is None:
        raise NotFound("Courriel inconnu.")
    if row.status != "quarantined":
        raise Conflict("Ce courriel n'est plus en quarantaine.")
    return row


def release(user: User, mail_id: int) -> intake.Outcome:
    """Process a quarantined mail normally (its checks of size, structure and sender waived by staff)."""
    _check(user, HANDLERS)
    row = _held(mail_id)
    raw = _raw(row)
    if raw is None:
        raise Conflict("Le message d'origine n'est plus disponible : écartez-le.")
    stored = row.stored_name
    outcome = intake.process(raw, parsing.parse(raw), key=row.dedupe_key, row=row, release_by=user.username)
    with transaction():
        row = db.session.get(IngestedMail, mail_id)
        row.stored_name = None  # the case keeps the message as its .eml attachment
    _delete(stored)
    return outcome


def discard(user: User, mail_id: int) -> None:
    """Throw a quarantined mail away (the mailbox keeps it in the done folder: nothing is deleted there)."""
    _check(user, HANDLERS)
    with transaction():
        row = _held(mail_id)
        stored = row.stored_name
        row.status, row.stored_name, row.handled_by, row.handled_at = "discarded", None, user.username, clock.now()
    if stored:
        _delete(stored)


def _delete(stored_name: str | None) -> None:
    """Delete a kept raw message after the transaction that let it go committed."""
    if stored_name and re.fullmatch(r"[0-9a-f]{32}", stored_name):
        (storage_dir() / stored_name).unlink(missing_ok=True)
