"""Letters as PDF (WeasyPrint): letterhead, sender block, recipient, « Paris, le 3 décembre 2026 », reference,
« Objet : … », body, signature; A4 with margins. Kept as an attachment of the case when the letter is sent.

The layout is app/templates/letters/letter_pdf.html, a page of its own (no navigation bar). WeasyPrint fetches
nothing: the letter has no external resource, and the fetcher refuses every URL but `data:`.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from flask import current_app, render_template
from markupsafe import Markup
from sqlalchemy import select

from app import clock, formatting
from app.extensions import db
from app.models import Attachment, Case, OutboxMessage
from app.services.core.errors import NotFound
from app.services.core.storage import storage_dir
from app.services.messaging.rendering import sanitize, text_to_html

PDF_TYPE = "application/pdf"
CHANNEL_LABELS = {"email": "e-mail", "letter": "courrier", "registered_letter": "lettre recommandée"}


def _lines(value: str | None) -> list[str]:
    """Configuration lines: a newline or `|` separates them (an environment variable holds one line)."""
    return [line.strip() for line in re.split(r"\n|\|", value or "") if line.strip()]


def _fetcher():
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # WeasyPrint before 68: a function is the fetcher
        def refuse(url, *args, **kwargs):
            raise ValueError(f"ressource externe refusée : {url[:60]}")
        return refuse
    return URLFetcher(allowed_protocols=["data"], allow_redirects=False)


def sender() -> dict:
    config = current_app.config
    return {"name": config.get("LETTER_SENDER_NAME") or "", "address": _lines(config.get("LETTER_SENDER_ADDRESS")),
            "contact": _lines(config.get("LETTER_SENDER_CONTACT")),
            "signature": _lines(config.get("LETTER_SIGNATURE"))}


def enclosed(message: OutboxMessage) -> list[str]:
    """The names of the case files sent with the message."""
    ids = [int(i) for i in (message.attachment_ids or [])]
    if not ids:
        return []
    return list(db.session.scalars(select(Attachment.filename).where(Attachment.id.in_(ids))
                                   .order_by(Attachment.id)))


def _old_address(message: OutboxMessage) -> str | None:
    """A letter written before postal_address existed kept the address as its recipient."""
    recipient = message.recipient or ""
    return recipient if "@" not in recipient and recipient != (message.recipient_name or "") else None


def letter_html(message: OutboxMessage, case: Case) -> str:
    """The letter as a standalone HTML page for WeasyPrint."""
    body = sanitize(message.body_html) if message.body_html else text_to_html(message.body)
    written = message.created_at or clock.now()
    return render_template(
        "letters/letter_pdf.html", message=message, reference=case.reference, sender=sender(),
        recipient_name=message.recipient_name or case.customer_name or "",
        recipient_address=_lines(message.postal_address or _old_address(message)),
        place_date=formatting.place_date(written, current_app.config.get("LETTER_PLACE")),
        registered=message.channel == "registered_letter", body=Markup(body), enclosed=enclosed(message),
        signed=message.channel != "email")


def render_pdf(message: OutboxMessage, case: Case) -> bytes:
    """The letter's PDF bytes."""
    from weasyprint import HTML  # imported on use: loading pango costs about a second

    return HTML(string=letter_html(message, case), base_url=None, url_fetcher=_fetcher()).write_pdf()


def pdf_name(message: OutboxMessage, case: Case) -> str:
    return f"courrier-{case.reference}-{message.id}.pdf"


def write_pdf_file(pdf: bytes) -> str:
    """Store PDF bytes under a random name before the transaction that records them; return that name."""
    stored = secrets.token_hex(16)
    (storage_dir() / stored).write_bytes(pdf)
    return stored


def discard_file(stored: str) -> None:
    (storage_dir() / stored).unlink(missing_ok=True)


def keep_pdf(message: OutboxMessage, case: Case, pdf: bytes, stored: str, actor: str) -> Attachment:
    """Record a stored PDF as an attachment of the case and on the message (in the caller's transaction)."""
    digest = hashlib.sha256(pdf).hexdigest()
    attachment = Attachment(case_id=case.id, filename=pdf_name(message, case), stored_name=stored,
                            content_type=PDF_TYPE, size=len(pdf), sha256=digest, uploaded_by=actor,
                            uploaded_at=clock.now())
    db.session.add(attachment)
    db.session.flush()
    message.pdf_attachment_id, message.pdf_sha256 = attachment.id, digest
    return attachment


def kept_pdf(message: OutboxMessage) -> bytes | None:
    """The PDF kept when the letter was made (None before); NotFound if its file is gone (never a new one:
    the audit trail holds the kept file's hash)."""
    if not message.pdf_attachment_id:
        return None
    attachment = db.session.get(Attachment, message.pdf_attachment_id)
    path = storage_dir() / attachment.stored_name if attachment is not None else None
    if path is None or not path.is_file():
        raise NotFound("Le PDF conservé de ce courrier est introuvable dans le stockage des pièces.")
    return path.read_bytes()
