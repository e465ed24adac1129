"""Attachments and internal comments on a case; each one is also an audit event in the same transaction."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from flask import current_app

from app import clock
from app.extensions import db
from app.models import Attachment, Comment, User
from app.services.cases import files
from app.services.cases.lifecycle import get_case
from app.services.core import audit
from app.services.core.case_lock import lock_case
from app.services.core.errors import Invalid, NotFound
from app.services.core.storage import storage_dir  # noqa: F401 - also used by the case pages
from app.services.core.transaction import transaction

# Extension -> the content type we serve it with (never the one the browser claimed).
ALLOWED_TYPES = {
    "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "txt": "text/plain", "csv": "text/csv", "eml": "message/rfc822",
    "doc": "application/msword", "xls": "application/vnd.ms-excel",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text", "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
# The first bytes the common binary types must start with: a renamed executable is refused.
SIGNATURES = {"pdf": (b"%PDF",), "png": (b"\x89PNG",), "jpg": (b"\xff\xd8\xff",), "jpeg": (b"\xff\xd8\xff",),
              "docx": (b"PK",), "xlsx": (b"PK",), "odt": (b"PK",), "ods": (b"PK",),
              "doc": (b"\xd0\xcf\x11\xe0",), "xls": (b"\xd0\xcf\x11\xe0",)}
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_COMMENT = 5000


def max_bytes() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))




def clean_filename(name: str | None) -> str:
    """The display name: the last path component, no control characters, at most 200 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C").strip()
    base = base.lstrip(".").strip()
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 190] + dot + ext[:9]) if dot else base[:200]
    return base


def add_attachment(user: User, reference: str, filename: str | None, content: bytes) -> Attachment:
    """Store an uploaded file for a case after checking its name, type and size."""
    case = get_case(reference)
    name = clean_filename(filename)
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if not name or not ext:
        raise Invalid({"file": "Choisissez un fichier avec une extension (par exemple .pdf)."})
    if ext not in ALLOWED_TYPES:
        raise Invalid({"file": f"Type de fichier non accepté (.{ext}). Types acceptés : "
                               + ", ".join(sorted(ALLOWED_TYPES)) + "."})
    if not content:
        raise Invalid({"file": "Le fichier est vide."})
    if len(content) > max_bytes():
        raise Invalid({"file": f"Fichier trop volumineux : {max_bytes() // (1024 * 1024)} Mo au maximum."})
    if ext in SIGNATURES and not content.startswith(SIGNATURES[ext]):
        raise Invalid({"file": f"Le contenu ne correspond pas à un fichier .{ext}."})
    stored = files.stage(content).name  # its final name once the transaction below commits (files.py: no orphan)
    with transaction():
        lock_case(case.id)  # the case row lock before any write of the case (case_lock)
        attachment = Attachment(case_id=case.id, filename=name, stored_name=stored, content_type=ALLOWED_TYPES[ext],
                                size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                                uploaded_by=user.username, uploaded_at=clock.now())
        db.session.add(attachment)
        db.session.flush()
        audit.record(case, user.username, "attachment_added", data={
            "attachment_id": attachment.id, "filename": name, "size": len(content), "sha256": attachment.sha256})
    return attachment


def attachment_file(reference: str, attachment_id: int) -> tuple[Attachment, Path]:
    """An attachment of a case and the path of its stored file."""
    case = get_case(reference)
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.case_id != case.id:
        raise NotFound("Pièce jointe inconnue.")
    path = files.path_of(attachment.stored_name)
    if path is None:
        raise NotFound("Le fichier de cette pièce jointe est introuvable.")
    return attachment, path


def add_comment(user: User, reference: str, text: str | None) -> Comment:
    """Add an internal comment to a case."""
    case = get_case(reference)
    body = (text or "").strip()
    if not body:
        raise Invalid({"text": "Le commentaire est vide."})
    if len(body) > MAX_COMMENT or "\x00" in body:
        raise Invalid({"text": f"{MAX_COMMENT} caractères au maximum, sans caractères de contrôle."})
    with transaction():
        lock_case(case.id)
        comment = Comment(case_id=case.id, author=user.username, body=body, created_at=clock.now())
        db.session.add(comment)
        db.session.flush()
        audit.record(case, user.username, "comment_added", data={"comment_id": comment.id, "text": body})
    return comment


def complainant_file(reference: str, seq: int) -> tuple[dict, Path]:
    """A file the complainant sent (its audit event's data) and the path of the stored copy."""
    from sqlalchemy import select

    from app.models import AuditEvent

    case = get_case(reference)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.seq == seq)).first()
    data = (event.data or {}) if event is not None else {}
    stored = str(data.get("stored_name") or "")
    if event is None or event.type != "complainant_attachment" or not re.fullmatch(r"[0-9a-f]{32}", stored):
        raise NotFound("Pièce jointe inconnue.")
    path = files.path_of(stored)
    if path is None:
        raise NotFound("Le fichier de cette pièce jointe est introuvable.")
    ext = str(data.get("filename") or "").rpartition(".")[2].lower()
    return {"filename": clean_filename(data.get("filename")) or "piece", "content_type":
            ALLOWED_TYPES.get(ext, "application/octet-stream")}, path
