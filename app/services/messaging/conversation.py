"""Threading of the e-mails we send: one conversation per case in the complainant's mail client.

Every e-mail carries a stable Message-ID (the same on a retry) signed with the application's secret, so that
a reply's In-Reply-To can be trusted to name one of our messages and cannot be forged for another case; an
In-Reply-To/References chain to the complainant's last message on the case (else to our previous e-mail);
and the case reference in brackets in its subject, which the mailbox reads back (app/services/mailbox).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import IngestedMail, OutboxMessage

# What the complainant wrote and we recorded on the case: the messages our replies answer.
FROM_COMPLAINANT = ("case_opened", "merged", "threaded")
# Messages the process sends by itself (RFC 3834): an auto-responder must not answer them (no mail loops).
AUTOMATIC_TEMPLATES = frozenset({"acknowledgment", "intake_merged", "tracking_link"})
MAX_REFERENCES = 10
REFERENCE_IN_SUBJECT = re.compile(r"\[([A-Z]{2,10}-\d{4}-\d{1,9})\]")
_OUTBOX_ID = re.compile(r"<?outbox-(\d+)-(\d+)\.([0-9a-f]{16})@[^>\s]+>?")
_MSGID = re.compile(r"<[^<>\s]+>")


def _signature(outbox_id: int, case_id: int) -> str:
    key = str(current_app.config.get("SECRET_KEY") or "").encode()
    return hmac.new(key, f"outbox:{outbox_id}:{case_id}".encode(), hashlib.sha256).hexdigest()[:16]


def _domain() -> str:
    return current_app.config.get("MAIL_FROM", "reclamations@example.org").rpartition("@")[2] or "localhost"


def message_id(message: OutboxMessage) -> str:
    """A stable, unguessable Message-ID per outbox row: a retried message carries the same one."""
    return f"<outbox-{message.id}-{message.case_id}.{_signature(message.id, message.case_id)}@{_domain()}>"


def outbox_ref(value: str | None) -> tuple[int, int] | None:
    """(outbox id, case id) of a Message-ID we sent, checked against its signature; None for anything else."""
    match = _OUTBOX_ID.fullmatch((value or "").strip())
    if not match:
        return None
    outbox_id, case_id = int(match.group(1)), int(match.group(2))
    if not hmac.compare_digest(match.group(3), _signature(outbox_id, case_id)):
        return None
    return outbox_id, case_id


def message_ids(header: str | None) -> list[str]:
    """The <…> Message-IDs of an In-Reply-To or References header, in order."""
    return _MSGID.findall(header or "")


def email_subject(subject: str, reference: str) -> str:
    """The subject with the case reference in brackets (the bare reference is bracketed, else it is appended)."""
    if f"[{reference}]" in subject:
        return subject
    if reference in subject:
        return subject.replace(reference, f"[{reference}]", 1)
    return f"{subject} [{reference}]"


def thread_headers(message: OutboxMessage) -> dict[str, str]:
    """In-Reply-To and References for an outgoing e-mail: the complainant's last message on the case, else our
    previous e-mail on it; Auto-Submitted for the messages the process sends by itself."""
    headers: dict[str, str] = {}
    last = db.session.scalars(select(IngestedMail).where(
        IngestedMail.case_id == message.case_id, IngestedMail.status.in_(FROM_COMPLAINANT),
        IngestedMail.message_id.is_not(None)).order_by(IngestedMail.id.desc()).limit(1)).first()
    if last is not None:
        chain = message_ids(last.references) + [last.message_id]
    else:
        earlier = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.case_id == message.case_id, OutboxMessage.channel == "email",
            OutboxMessage.id < message.id).order_by(OutboxMessage.id.desc()).limit(MAX_REFERENCES)).all()
        chain = [message_id(m) for m in reversed(earlier)]
    chain = list(dict.fromkeys(chain))
    if len(chain) > MAX_REFERENCES:  # RFC 5322: keep the first (the thread's root) and the latest ones
        chain = chain[:1] + chain[-(MAX_REFERENCES - 1):]
    if chain:
        headers["In-Reply-To"] = chain[-1]
        headers["References"] = " ".join(chain)
    if message.template in AUTOMATIC_TEMPLATES:
        headers["Auto-Submitted"] = "auto-generated"
    return headers
