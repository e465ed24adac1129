"""The outbox sender: e-mails by SMTP when configured, letters kept "to print"; claims, retries, proof of sending.

A message is claimed by an atomic UPDATE (pending -> sending) before the SMTP session, so two senders never
send the same row, and no database lock is held while talking to the mail server. A sender that dies between
the SMTP acceptance and the final write leaves the row in `sending`; it is retried after CLAIM_TIMEOUT with
the same Message-ID, so the recipient's mail system can recognise the duplicate (at-least-once, never lost).

Each message is isolated: an SMTP or network failure is retried with backoff; any other failure (a message
that cannot be built, a row the database refuses) marks that message `failed` with its error, and the
pass goes on with the next one.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app
from sqlalchemy import and_, or_, select, update

from app import clock
from app.extensions import db
from app.models import Attachment, Case, MessageTemplate, Notification, OutboxMessage, User
from app.services.core import audit
from app.services.core.case_lock import lock_case
from app.services.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.core.storage import storage_dir
from app.services.core.transaction import transaction, use_case
from app.services.messaging import conversation, letters
from app.services.messaging.messages import header_value, is_address, needs_pdf
from app.vocabulary import LETTER_GROUPS, POSTAL_CHANNELS

MAX_ATTEMPTS = 8
BACKOFF = timedelta(minutes=1)  # doubled after each failure: 1, 2, 4 ... minutes
MAX_BACKOFF = timedelta(hours=6)
CLAIM_TIMEOUT = timedelta(minutes=10)
TRACKING_NUMBER = re.compile(r"[A-Z0-9]{8,30}")  # La Poste: 1A 123 456 7890 1 (spaces dropped), or a barcode


@dataclass
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout: float = 10.0


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    to_print: list[int] = field(default_factory=list)
    notifications: int = 0


def parse_smtp_url(url: str) -> SmtpConfig:
    """smtp://user:pass@host:port?starttls=1 (or smtps:// for TLS from the start); ValueError if malformed."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL attendu sous la forme smtp://utilisateur:motdepasse@hôte:port")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    flag = query.get("starttls", "").lower() in ("1", "true", "yes", "on")
    return SmtpConfig(host=parts.hostname, port=parts.port or (465 if parts.scheme == "smtps" else 25),
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None,
                      starttls=flag, ssl=parts.scheme == "smtps",
                      timeout=float(query.get("timeout", 10)))


def backoff(attempts: int) -> timedelta:
    """The wait before the next attempt after `attempts` failures: exponential, capped."""
    return min(BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _smtp_config() -> SmtpConfig | None:
    url = current_app.config.get("SMTP_URL")
    return parse_smtp_url(url) if url else None


class RefusedRecipient(smtplib.SMTPException):
    """A recipient that is not one plain e-mail address: the message fails (retried, then failed), never sent."""


def _deliver(config: SmtpConfig, sender: str, recipients: list[str], subject: str, body: str,
             message_id: str, headers: dict[str, str] | None = None, *, html: str | None = None,
             files: tuple = ()) -> None:
    bad = [r for r in recipients if not is_address(r)]
    if bad or not recipients:
        raise RefusedRecipient(f"Adresse de destinataire invalide : {header_value(', '.join(bad))[:200]}")
    mail = EmailMessage()
    # Every header value on one line, whatever reached it (a name, a notification text): no header injection,
    # and no ValueError from the mail library that would stop the pass.
    mail["From"], mail["To"], mail["Subject"] = header_value(sender), ", ".join(recipients), header_value(subject)
    mail["Date"] = format_datetime(clock.now())
    mail["Message-ID"] = header_value(message_id)
    for name, value in (headers or {}).items():  # threading (In-Reply-To, References), Auto-Submitted
        mail[name] = header_value(value)
    mail.set_content(body)
    if html:  # a sanitised fragment (rendering.sanitize): the HTML alternative of the same text
        mail.add_alternative(f"<!doctype html><html lang=\"fr\"><body>{html}</body></html>", subtype="html")
    for filename, content, content_type in files:
        maintype, _, subtype = content_type.partition("/")
        mail.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    with smtp_session(config) as server:
        server.send_message(mail, to_addrs=recipients)


def smtp_session(config: SmtpConfig) -> smtplib.SMTP:
    """A connected, authenticated SMTP session (use it as a context manager)."""
    context = ssl.create_default_context()
    if config.ssl:
        server = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
    else:
        server = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    if config.starttls:
        server.starttls(context=context)
    if config.username:
        server.login(config.username, config.password or "")
    return server


def message_id(message: OutboxMessage) -> str:
    """A stable Message-ID per outbox row: a retried message carries the same one (see conversation.py)."""
    return conversation.message_id(message)


def _claim(message_id_: int, now) -> bool:
    """Take a message for this sender; False when another sender took it first."""
    stale = now - CLAIM_TIMEOUT
    with transaction():
        claimed = db.session.execute(
            update(OutboxMessage).where(
                OutboxMessage.id == message_id_,
                or_(OutboxMessage.status == "pending",
                    and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at <= stale)))
            .values(status="sending", claimed_at=now).execution_options(synchronize_session=False)).rowcount
    return claimed == 1


def _due_ids(now, limit: int, email_ready: bool) -> list[int]:
    channels = [*POSTAL_CHANNELS, "email"] if email_ready else list(POSTAL_CHANNELS)
    query = (select(OutboxMessage.id).where(
        OutboxMessage.channel.in_(channels),
        or_(and_(OutboxMessage.status == "pending",
                 or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now)),
            and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at <= now - CLAIM_TIMEOUT)))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
        .with_for_update(skip_locked=True))
    ids = list(db.session.scalars(query))
    db.session.rollback()  # the claim below is what counts; this only spreads senders over different rows
    return ids


def send_pending(limit: int = 50) -> SendReport:
    """One pass: claim due messages one by one, send e-mails by SMTP, mark letters to print."""
    report = SendReport()
    config = _smtp_config()
    now = clock.now()
    for outbox_id in _due_ids(now, limit, config is not None):
        if not _claim(outbox_id, now):
            continue
        try:
            _send_one(outbox_id, config, report)
        except Exception as exc:  # noqa: BLE001 - one poisoned message must not stop the others
            current_app.logger.exception("outbox message %s failed", outbox_id)
            _poisoned(outbox_id, exc)
            report.failed.append(outbox_id)
    if config is not None:
        report.notifications = email_notifications(config)
    return report


def _poisoned(outbox_id: int, exc: Exception) -> None:
    """Mark a message that failed for another reason than the mail server `failed` with its error (no retry)."""
    db.session.rollback()
    try:
        with transaction():
            message = db.session.get(OutboxMessage, outbox_id)
            case = lock_case(message.case_id)
            message.status, message.claimed_at, message.next_attempt_at = "failed", None, None
            message.attempts = (message.attempts or 0) + 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            audit.record(case, "system", "message_delivery_failed", data={
                "outbox_id": message.id, "template": message.template, "attempt": message.attempts,
                "error": message.last_error, "next_attempt_at": None})
    except Exception:  # noqa: BLE001 - logged; the claim expires and an administrator sees the row
        current_app.logger.exception("outbox message %s could not be marked failed", outbox_id)


def _send_one(outbox_id: int, config: SmtpConfig | None, report: SendReport) -> None:
    """Send one claimed message, or lay out its letter and mark it to print; SMTP failures are retried."""
    message = db.session.get(OutboxMessage, outbox_id)
    postal = message.channel != "email" or not message.recipient or "@" not in message.recipient
    pdf = _letter_pdf(message, postal)  # made before any lock: WeasyPrint takes tens of milliseconds
    stored = letters.write_pdf_file(pdf) if pdf else None
    if postal:
        _to_print(message, pdf, stored)
        report.to_print.append(message.id)
        return
    reference = db.session.get(Case, message.case_id).reference
    try:
        _deliver(config, current_app.config.get("MAIL_FROM", "reclamations@example.org"),
                 [message.recipient], conversation.email_subject(message.subject, reference), message.body,
                 message_id(message), conversation.thread_headers(message), html=message.body_html,
                 files=_files(message, pdf))
    except (OSError, smtplib.SMTPException) as exc:
        if stored:
            letters.discard_file(stored)
        with transaction():
            _failed(message, lock_case(message.case_id), exc)  # locked after SMTP: never held while sending
        report.failed.append(message.id)
    else:
        with transaction():
            case = lock_case(message.case_id)
            if pdf:
                letters.keep_pdf(message, case, pdf, stored, "system")
            _delivered(message, case, "email", "system")
        report.sent.append(message.id)


def _letter_pdf(message: OutboxMessage, postal: bool) -> bytes | None:
    """The PDF of a letter (a posted one, or a letter template sent by e-mail), or None for a plain e-mail."""
    row = db.session.get(MessageTemplate, message.template_version_id) if message.template_version_id else None
    if not (postal or needs_pdf(message, row.kind if row is not None else None)):
        return None
    return letters.render_pdf(message, db.session.get(Case, message.case_id))


def _files(message: OutboxMessage, pdf: bytes | None) -> list[tuple[str, bytes, str]]:
    """What the e-mail carries: the letter's PDF, and the case files staff chose to send."""
    case = db.session.get(Case, message.case_id)
    files = [(letters.pdf_name(message, case), pdf, letters.PDF_TYPE)] if pdf else []
    for attachment_id in message.attachment_ids or []:
        attachment = db.session.get(Attachment, int(attachment_id))
        path = storage_dir() / attachment.stored_name if attachment is not None else None
        if path is not None and attachment.case_id == message.case_id and path.is_file():
            files.append((attachment.filename, path.read_bytes(), attachment.content_type))
    return files


def _to_print(message: OutboxMessage, pdf: bytes, stored: str) -> None:
    try:
        with transaction():
            case = lock_case(message.case_id)  # the case row lock before its writes (case_lock)
            letters.keep_pdf(message, case, pdf, stored, "system")
            message.status, message.claimed_at = "to_print", None
            audit.record(case, "system", "message_to_print", data={
                "outbox_id": message.id, "template": message.template, "recipient": message.recipient,
                "channel": message.channel, "pdf_sha256": message.pdf_sha256,
                "pdf_attachment_id": message.pdf_attachment_id})
    except Exception:
        letters.discard_file(stored)
        raise




def _failed(message: OutboxMessage, case: Case, exc: Exception) -> None:
    now = clock.now()
    message.attempts = (message.attempts or 0) + 1
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    message.claimed_at = None
    if message.attempts >= MAX_ATTEMPTS:
        message.status, message.next_attempt_at = "failed", None
    else:
        message.status, message.next_attempt_at = "pending", now + backoff(message.attempts)
    audit.record(case, "system", "message_delivery_failed", data={
        "outbox_id": message.id, "template": message.template, "attempt": message.attempts,
        "error": message.last_error, "next_attempt_at": message.next_attempt_at.isoformat()
        if message.next_attempt_at else None})


def _delivered(message: OutboxMessage, case: Case, channel: str, actor: str) -> None:
    now = clock.now()
    message.status, message.sent_at, message.channel, message.sent_by = "sent", now, channel, actor
    message.attempts = (message.attempts or 0) + (1 if channel == "email" else 0)  # a letter keeps its channel
    message.claimed_at, message.next_attempt_at = None, None
    audit.record(case, actor, "message_delivered", data={
        "outbox_id": message.id, "template": message.template, "channel": channel,
        "recipient": message.recipient, "at": now.isoformat(), "attempts": message.attempts,
        "message_id": message_id(message) if channel == "email" else None,
        "pdf_sha256": message.pdf_sha256, "pdf_attachment_id": message.pdf_attachment_id,
        "tracking_number": message.tracking_number})


# --- letters ---------------------------------------------------------------------------------------------

def letters_to_print(limit: int = 200) -> list[tuple[OutboxMessage, str]]:
    """Letters waiting to be printed and posted, oldest first, with their case reference."""
    rows = db.session.execute(select(OutboxMessage, Case.reference).join(Case, Case.id == OutboxMessage.case_id)
                              .where(OutboxMessage.status == "to_print")
                              .order_by(OutboxMessage.created_at, OutboxMessage.id).limit(limit))
    return [(m, ref) for m, ref in rows]


def get_letter(user: User, outbox_id: int) -> OutboxMessage:
    """A letter of the outbox for printing (staff who post letters, and auditors who read)."""
    if not user.in_any(*LETTER_GROUPS, "auditeur"):
        raise Forbidden("Réservé à l'accueil et aux gestionnaires.")
    message = db.session.get(OutboxMessage, outbox_id)
    if message is None or message.channel not in POSTAL_CHANNELS:
        raise NotFound("Courrier inconnu.")
    return message


def letter_pdf(user: User, outbox_id: int) -> tuple[bytes, str]:
    """A letter's PDF and file name: the one kept when it was made, or a fresh rendering before that."""
    message = get_letter(user, outbox_id)
    case = db.session.get(Case, message.case_id)
    return letters.kept_pdf(message) or letters.render_pdf(message, case), letters.pdf_name(message, case)


def clean_tracking_number(value: str | None) -> str | None:
    """A postal tracking number without spaces, upper case; Invalid (French) if it is not one."""
    number = re.sub(r"[\s-]+", "", value or "").upper()
    if not number:
        return None
    if not TRACKING_NUMBER.fullmatch(number):
        raise Invalid({"tracking_number": "Numéro de suivi invalide : 8 à 30 lettres et chiffres "
                                          "(par exemple 1A 123 456 7890 1)."})
    return number


@use_case
def mark_posted(user: User, outbox_id: int, tracking_number: str | None = None) -> OutboxMessage:
    """Record that a printed letter was posted (with its tracking number if registered): proof in the audit log."""
    if not user.in_any(*LETTER_GROUPS):
        raise Forbidden("Réservé à l'accueil et aux gestionnaires.")
    letter = db.session.get(OutboxMessage, outbox_id)
    if letter is None:
        raise NotFound("Courrier inconnu.")
    number = clean_tracking_number(tracking_number)
    if letter.channel == "registered_letter" and number is None:
        raise Invalid({"tracking_number": "Indiquez le numéro de suivi de la lettre recommandée."})
    case = lock_case(letter.case_id)  # the case row lock before its writes (case_lock)
    claimed = db.session.execute(update(OutboxMessage).where(
        OutboxMessage.id == outbox_id, OutboxMessage.status == "to_print")
        .values(status="sending", claimed_at=clock.now()).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        if db.session.get(OutboxMessage, outbox_id) is None:
            raise NotFound("Courrier inconnu.")
        raise Conflict("Ce courrier a déjà été envoyé.")
    message = db.session.get(OutboxMessage, outbox_id)
    db.session.refresh(message)
    message.tracking_number = number
    _delivered(message, case, message.channel if message.channel in POSTAL_CHANNELS else "letter", user.username)
    return message


# --- staff notifications by e-mail ------------------------------------------------------------------------

def email_notifications(config: SmtpConfig, limit: int = 100) -> int:
    """E-mail new notifications to the users (or group members) who have an address; each one once."""
    sender = current_app.config.get("MAIL_FROM", "reclamations@example.org")
    base = current_app.config.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    ids = list(db.session.scalars(select(Notification.id).where(Notification.emailed_at.is_(None))
                                  .order_by(Notification.id).limit(limit)))
    db.session.rollback()
    count = 0
    for notification_id in ids:
        with transaction():  # claimed first: a staff reminder is sent at most once
            took = db.session.execute(update(Notification).where(
                Notification.id == notification_id, Notification.emailed_at.is_(None))
                .values(emailed_at=clock.now()).execution_options(synchronize_session=False)).rowcount
        if not took:
            continue
        row = db.session.get(Notification, notification_id)
        users = db.session.scalars(select(User).where(User.active.is_(True), User.email.is_not(None)))
        recipients = sorted({u.email for u in users if ((row.username and u.username == row.username)
                             or (row.group_name and row.group_name in u.groups)) and is_address(u.email)})
        if not recipients:
            continue
        body = row.text + (f"\n\n{base}{row.link}\n" if row.link else "\n")
        try:
            _deliver(config, sender, recipients, f"[Réclamations] {row.text[:120]}", body,
                     f"<notification-{row.id}@{sender.rpartition('@')[2] or 'localhost'}>")
            count += 1
        except Exception as exc:  # noqa: BLE001 - one bad notification must not stop the others
            current_app.logger.warning("notification %s not e-mailed: %s", row.id, exc)
            with transaction():  # not sent: it is not recorded as e-mailed (the next pass tries again)
                db.session.execute(update(Notification).where(Notification.id == notification_id)
                                   .values(emailed_at=None).execution_options(synchronize_session=False))
    return count
