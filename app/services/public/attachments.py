"""Files sent by complainants: the staff attachment rules (app/services/cases/notes.py: types, signatures, size,
storage folder), stored under a random name and described by an audit event instead of an Attachment row."""

from __future__ import annotations

import hashlib

from app.models import Case
from app.services.cases import files
from app.services.cases.notes import ALLOWED_TYPES, SIGNATURES, clean_filename, max_bytes
from app.services.core.errors import Invalid

__all__ = ["max_bytes", "store"]


def store(case: Case, actor: str, filename: str | None, content: bytes, *, field: str = "file") -> dict:
    """Check and write one file under its temporary name (published once the transaction commits, removed if it
    rolls back: cases/files.py); return what the audit event records about it (never a path)."""
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
    if ext in ("txt", "csv") and b"\x00" in content:
        raise Invalid({field: "Le contenu ne correspond pas à un fichier texte."})
    staged = files.stage(content)
    return {"filename": name, "stored_name": staged.name, "content_type": ALLOWED_TYPES[ext], "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(), "uploaded_by": actor, "case": case.reference}
