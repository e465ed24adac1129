"""Reading one raw e-mail: headers, sender, text body (HTML turned into clean text), attachments, and what
kind of message it is (automatic reply, delivery report, malformed). Pure functions: no database."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import errors as email_errors
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

import nh3

# Structural defects: the MIME tree cannot be trusted (parts lost or run together).
FATAL_DEFECTS = (email_errors.NoBoundaryInMultipartDefect, email_errors.StartBoundaryNotFoundDefect,
                 email_errors.MultipartInvariantViolationDefect, email_errors.MissingHeaderBodySeparatorDefect,
                 email_errors.CloseBoundaryNotFoundDefect)
AUTO_SENDERS = ("mailer-daemon", "postmaster", "noreply-dmarc-support")
BULK_PRECEDENCE = ("bulk", "list", "junk", "auto_reply")
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table",
               "ul", "ol", "td", "th", "hr"}


@dataclass
class MailPart:
    filename: str
    content_type: str
    content: bytes


@dataclass
class Bounce:
    """A delivery status notification (RFC 3464) about one of our messages."""

    original_message_id: str | None
    recipient: str | None
    status: str | None
    diagnostic: str | None


@dataclass
class ParsedMail:
    raw_sha256: str
    size: int
    message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    sender_address: str | None = None
    sender_name: str | None = None
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    attachments: list[MailPart] = field(default_factory=list)
    auto_reason: str | None = None  # why it is an automatic message (French), None for a person's mail
    bounce: Bounce | None = None
    problem: str | None = None  # why it cannot be read (French), None when it can


def dedupe_key(parsed: ParsedMail) -> str:
    """The exactly-once key: the Message-ID when there is one, else the hash of the raw bytes."""
    basis = f"mid:{parsed.message_id}" if parsed.message_id else f"raw:{parsed.raw_sha256}"
    return hashlib.sha256(basis.encode("utf-8", "surrogateescape")).hexdigest()


def _header(mail: Message, name: str) -> str | None:
    try:
        value = mail.get(name)
    except (ValueError, IndexError, TypeError, AttributeError):  # a header the parser cannot decode
        return None
    if value is None:
        return None
    return " ".join(str(value).split()) or None


def auto_reason(mail: Message, sender: str | None, own_address: str | None = None) -> str | None:
    """Why a message is automatic (an auto-responder, a list, a daemon), else None (RFC 3834 and common use)."""
    auto = (_header(mail, "Auto-Submitted") or "").lower()
    if auto and auto != "no":
        return f"Réponse automatique (Auto-Submitted: {auto[:40]})"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse"):
        if _header(mail, name):
            return f"Réponse automatique ({name})"
    precedence = (_header(mail, "Precedence") or "").lower()
    if precedence in BULK_PRECEDENCE:
        return f"Envoi en nombre (Precedence: {precedence})"
    if _header(mail, "List-Id"):
        return "Message de liste de diffusion (List-Id)"
    local = (sender or "").partition("@")[0].lower()
    if local in AUTO_SENDERS or local.startswith("mailer-daemon"):
        return f"Expéditeur automatique ({sender})"
    if own_address and sender and sender.lower() == own_address.lower():
        return "Message de notre propre adresse (boucle évitée)"
    return None


class _TextExtractor(HTMLParser):
    """Text of an HTML fragment already cleaned by nh3: blocks on their own lines, entities decoded."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in _BLOCK_TAGS:
            self.chunks.append("\n")
        if tag == "li":
            self.chunks.append("- ")

    def handle_endtag(self, tag):
        if tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_data(self, data):
        self.chunks.append(data)


def html_to_text(html: str) -> str:
    """Clean text from HTML mail: nh3 drops scripts, styles and every tag but the block ones, then Python's
    HTML parser writes the text with one line per block. No markup survives."""
    cleaned = nh3.clean(html, tags=_BLOCK_TAGS, attributes={}, clean_content_tags={"script", "style", "title"},
                        strip_comments=True)
    extractor = _TextExtractor()
    extractor.feed(cleaned)
    extractor.close()
    return normalize_text("".join(extractor.chunks).replace("\xa0", " "))


def normalize_text(text: str) -> str:
    """Unix line ends, no trailing spaces, no control characters, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c for c in text if c in "\n\t" or c >= " ")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decoded(part: Message) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError, KeyError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace")
    return content if isinstance(content, str) else content.decode("utf-8", "replace")


def _body_and_attachments(mail: EmailMessage) -> tuple[str, list[MailPart]]:
    body = mail.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        content = _decoded(body)
        text = html_to_text(content) if body.get_content_subtype() == "html" else normalize_text(content)
    files = []
    for part in mail.iter_attachments():
        if part.get_content_maintype() == "multipart":
            continue
        filename = part.get_filename()
        if part.get_content_type() == "message/rfc822":
            filename = filename or "message-joint.eml"
            inner = part.get_payload()
            content = (inner[0] if isinstance(inner, list) else inner).as_bytes() if inner else b""
        else:
            if not filename:
                continue  # an inline part without a name (a logo of a signature): kept in the .eml only
            content = part.get_payload(decode=True) or b""
        files.append(MailPart(filename, part.get_content_type(), content))
    return text, files


def _bounce(mail: EmailMessage) -> Bounce | None:
    if mail.get_content_type() != "multipart/report" or \
            (mail.get_param("report-type") or "").lower() != "delivery-status":
        return None
    recipient = status = diagnostic = original = None
    action = None
    for part in mail.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for block in part.get_payload() or []:
                action = action or _header(block, "Action")
                recipient = recipient or _header(block, "Final-Recipient") or _header(block, "Original-Recipient")
                status = status or _header(block, "Status")
                diagnostic = diagnostic or _header(block, "Diagnostic-Code")
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers") and original is None:
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                original = _header(payload[0], "Message-ID")
            else:
                inner = message_from_bytes(part.get_payload(decode=True) or b"", policy=policy.default)
                original = _header(inner, "Message-ID")
    if action and action.lower() not in ("failed",):
        return None  # delayed, delivered, relayed: not a failure
    if recipient and ";" in recipient:
        recipient = recipient.split(";", 1)[1].strip()
    return Bounce(original, recipient, status, diagnostic)


def parse(raw: bytes, *, own_address: str | None = None) -> ParsedMail:
    """Read a raw message; never raises: what cannot be read is named in `problem`."""
    parsed = ParsedMail(raw_sha256=hashlib.sha256(raw).hexdigest(), size=len(raw))
    try:
        mail = message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # noqa: BLE001 - the parser is lenient; anything it still throws means unreadable
        parsed.problem = f"Message illisible ({type(exc).__name__})."
        return parsed
    found_ids = re.findall(r"<[^<>\s]+>", _header(mail, "Message-ID") or "")
    parsed.message_id = found_ids[0][:500] if found_ids else None
    parsed.in_reply_to = _header(mail, "In-Reply-To")
    parsed.references = _header(mail, "References")
    parsed.subject = (_header(mail, "Subject") or "")[:300]
    name, address = parseaddr(_header(mail, "From") or "")
    parsed.sender_address = address.strip().lower()[:254] if "@" in address else None
    parsed.sender_name = " ".join(name.split())[:200] or None
    parsed.recipients = [a.lower() for _n, a in getaddresses(
        [_header(mail, h) or "" for h in ("To", "Cc", "Delivered-To")]) if "@" in a]
    parsed.auto_reason = auto_reason(mail, parsed.sender_address, own_address)
    fatal = [d for part in mail.walk() for d in part.defects if isinstance(d, FATAL_DEFECTS)] + \
        [d for d in mail.defects if isinstance(d, FATAL_DEFECTS)]
    if fatal:
        parsed.problem = f"Structure MIME invalide ({type(fatal[0]).__name__})."
    try:
        parsed.bounce = _bounce(mail)
        parsed.text, parsed.attachments = _body_and_attachments(mail)
    except Exception as exc:  # noqa: BLE001 - a broken part: the message is held for staff, not lost
        parsed.problem = parsed.problem or f"Contenu illisible ({type(exc).__name__})."
    if parsed.sender_address is None and parsed.problem is None and parsed.bounce is None:
        parsed.problem = "Adresse de l'expéditeur absente ou illisible."
    return parsed
