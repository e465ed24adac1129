"""Files sent by complainants: checked name, type, signature and size; stored under a random name.

Same rules and storage folder as staff attachments (ATTACHMENT_DIR, ATTACHMENT_MAX_BYTES).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from pathlib import Path

from flask import current_app

from app.models import Case
from app.services.errors import Invalid

ALLOWED_TYPES = {
    "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "txt": "text/plain",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text", "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
# The first bytes a file of the type must start with: a renamed executable is refused.
SIGNATURES = {"pdf": b"%PDF", "png": b"\x89PNG", "jpg": b"\xff\xd8\xff", "jpeg": b"\xff\xd8\xff",
              "docx": b"PK\x03\x04", "xlsx": b"PK\x03\x04", "odt": b"PK\x03\x04", "ods": b"PK\x03\x04"}
DEFAULT_MAX_BYTES = 5 * 1024 * 1024


def max_bytes() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def storage_dir() -> Path:
    path = Path(current_app.config.get("ATTACHMENT_DIR") or Path(current_app.instance_path) / "attachments")
    path.mkdir(parents=True, exist_ok=True)
    return path


def clean_filename(name: str | None) -> str:
    """The display name only: last path component, no control characters, no leading dots, 200 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C")
    base = base.strip().lstrip(".").strip()
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[:190] + dot + ext[:9]) if dot else base[:200]
    return base


def store(case: Case, actor: str, filename: str | None, content: bytes, *, field: str = "file") -> dict:
    """Check and write one file; return what the audit event records about it (never a path)."""
    name = clean_filename(filename)
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if not name or ext not in ALLOWED_TYPES:
        raise Invalid({field: "Type de fichier non accepté. Types acceptés : "
                              + ", ".join(sorted(ALLOWED_TYPES)) + "."})
    if not content:
        raise Invalid({field: "Le fichier est vide."})
    if len(content) > max_bytes():
        raise Invalid({field: f"Fichier trop volumineux : {max_bytes() // (1024 * 1024)} Mo au maximum."})
    if ext in SIGNATURES and not content.startswith(SIGNATURES[ext]):
        raise Invalid({field: f"Le contenu ne correspond pas à un fichier .{ext}."})
    if ext == "txt" and b"\x00" in content:
        raise Invalid({field: "Le contenu ne correspond pas à un fichier texte."})
    stored = secrets.token_hex(16)
    (storage_dir() / stored).write_bytes(content)
    return {"filename": name, "stored_name": stored, "content_type": ALLOWED_TYPES[ext], "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(), "uploaded_by": actor, "case": case.reference}


def remove(stored_name: str) -> None:
    """Delete a stored file whose transaction failed."""
    if re.fullmatch(r"[0-9a-f]{32}", stored_name):
        (storage_dir() / stored_name).unlink(missing_ok=True)
