"""Building test e-mails (plain, HTML, with attachments, replies, automatic replies, delivery reports) and the
`smtp_sink` fixture (the real aiosmtpd sink of tests/support/mail.py, configured as SMTP_URL)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest

from tests.support.mail import Sink, free_port, start_sink

__all__ = ["Sink", "free_port", "smtp_sink"]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def mail(*, sender="Jean Dupont <jean.dupont@example.fr>", to="reclamations@example.org",
         subject="Facture FA-2026-0042 : double prélèvement", text="Bonjour,\nJ'ai été prélevé deux fois.\n",
         html: str | None = None, files: list[tuple[str, str, bytes]] = (), message_id: str | None = "auto",
         headers: dict | None = None) -> bytes:
    """A raw e-mail; files are (name, content type, bytes); message_id None leaves the header out."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    if message_id:
        msg["Message-ID"] = make_msgid(domain="example.fr") if message_id == "auto" else message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    for name, ctype, content in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=policy.SMTP)  # CRLF line ends, as stored by an IMAP server


def message_id_of(raw: bytes) -> str:
    return message_from_bytes(raw, policy=policy.default)["Message-ID"]


def dsn(original_message_id: str, recipient="jean.dupont@example.fr", action="failed",
        status="5.1.1", diagnostic="smtp; 550 5.1.1 User unknown") -> bytes:
    """A delivery status notification (RFC 3464) about one message."""
    boundary = "DSN-BOUNDARY-42"
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.fr>\r\n"
        f"To: reclamations@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{abs(hash(original_message_id))}@mx.example.fr>\r\n"
        f"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.fr\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: {diagnostic}\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: reclamations@example.org\r\nTo: {recipient}\r\nMessage-ID: {original_message_id}\r\n"
        f"Subject: Accusé de réception\r\n\r\n"
        f"--{boundary}--\r\n").encode()


@pytest.fixture
def smtp_sink(app):
    """A real SMTP server on a free port, configured as SMTP_URL; stopped at the end."""
    sink, controller, port = start_sink()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}?timeout=5"
    yield sink
    controller.stop()
