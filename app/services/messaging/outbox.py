"""The outbox sender: e-mails by SMTP when configured, letters kept "to print"; claims, retries, proof of sending.

A message is claimed by an atomic UPDATE (pending -> sending) before the SMTP session, so two senders never
send the same row, and no database lock is held while talking to the mail server. A sender that dies between
the SMTP acceptance and the final write leaves the row in `sending`; it is retried after CLAIM_TIMEOUT with
the same Message-ID, so the recipient's mail system can recognise the duplicate (at-least-once, never lost).
"""

from __future__ import annotations

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
from app.models import Case, Notification, OutboxMessage, User
from app.services.core import audit
from app.services.core.case_lock import lock_case
from app.services.core.errors import Conflict, Forbidden, NotFound
from app.services.core.transaction import transaction, use_case
from app.vocabulary import LETTER_GROUPS

MAX_ATTEMPTS = 8
BACKOFF = timedelta(minutes=1)  # doubled after each failure: 1, 2, 4 ... minutes
MAX_BACKOFF = timedelta(hours=6)
CLAIM_TIMEOUT = timedelta(minutes=10)


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


def _deliver(config: SmtpConfig, sender: str, recipients: list[str], subject: str, body: str,
             message_id: str) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, ", ".join(recipients), subject
    mail["Date"] = format_datetime(clock.now())
    mail["Message-ID"] = message_id
    mail.set_content(body)
    with smtp_session(config) as server:
        server.send_message(mail)


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
    """A stable Message-ID per outbox row: a retried message carries the same one."""
    domain = current_app.config.get("MAIL_FROM", "reclamations@example.org").rpartition("@")[2] or "localhost"
    return f"<outbox-{message.id}-{message.case_id}@{domain}>"


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
    channels = ["letter", "email"] if email_ready else ["letter"]
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
        message = db.session.get(OutboxMessage, outbox_id)
        if message.channel != "email" or not message.recipient or "@" not in message.recipient:
            with transaction():
                case = lock_case(message.case_id)  # the case row lock before its writes (case_lock)
                message.status, message.claimed_at = "to_print", None
                audit.record(case, "system", "message_to_print", data={
                    "outbox_id": message.id, "template": message.template, "recipient": message.recipient})
            report.to_print.append(message.id)
            continue
        try:
            _deliver(config, current_app.config.get("MAIL_FROM", "reclamations@example.org"),
                     [message.recipient], message.subject, message.body, message_id(message))
        except (OSError, smtplib.SMTPException) as exc:
            with transaction():
                _failed(message, lock_case(message.case_id), exc)  # locked after SMTP: never held while sending
            report.failed.append(message.id)
        else:
            with transaction():
                _delivered(message, lock_case(message.case_id), "email", "system")
            report.sent.append(message.id)
    if config is not None:
        report.notifications = email_notifications(config)
    return report


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
    message.attempts = (message.attempts or 0) + (1 if channel == "email" else 0)
    message.claimed_at, message.next_attempt_at = None, None
    audit.record(case, actor, "message_delivered", data={
        "outbox_id": message.id, "template": message.template, "channel": channel,
        "recipient": message.recipient, "at": now.isoformat(), "attempts": message.attempts,
        "message_id": message_id(message) if channel == "email" else None})


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
    if message is None or message.channel != "letter":
        raise NotFound("Courrier inconnu.")
    return message


@use_case
def mark_posted(user: User, outbox_id: int) -> OutboxMessage:
    """Record that a printed letter was posted: its proof of sending goes to the audit log."""
    if not user.in_any(*LETTER_GROUPS):
        raise Forbidden("Réservé à l'accueil et aux gestionnaires.")
    letter = db.session.get(OutboxMessage, outbox_id)
    if letter is None:
        raise NotFound("Courrier inconnu.")
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
    _delivered(message, case, "letter", user.username)
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
        recipients = sorted({u.email for u in users if (row.username and u.username == row.username)
                             or (row.group_name and row.group_name in u.groups)})
        if not recipients:
            continue
        body = row.text + (f"\n\n{base}{row.link}\n" if row.link else "\n")
        try:
            _deliver(config, sender, recipients, f"[Réclamations] {row.text[:120]}", body,
                     f"<notification-{row.id}@{sender.rpartition('@')[2] or 'localhost'}>")
            count += 1
        except (OSError, smtplib.SMTPException) as exc:
            current_app.logger.warning("notification %s not e-mailed: %s", row.id, exc)
    return count
