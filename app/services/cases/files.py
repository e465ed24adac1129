"""Stored files (staff attachments, complainants' files) written so that a crash leaves no orphan.

A file is first written under a temporary name (`<name>.part`, flushed to disk), then the database row or
audit event naming it is committed, then the file is renamed to its final name (an atomic rename on the same
folder). A crash before the commit leaves only a `.part` file that nothing names; a crash between the commit
and the rename leaves a `.part` file that a row names. `sweep()` (command `flask files sweep`) finishes both:
it renames the named `.part` files and deletes, once older than SWEEP_MINUTES (so no upload in progress is
touched), every file that no row names.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Attachment, AuditEvent
from app.services.core.storage import attachment_dir
from app.services.core.transaction import after_commit

PART = ".part"
_NAME = re.compile(r"[0-9a-f]{32}")
SWEEP_MINUTES = 60


def storage_dir() -> Path:
    """The attachment folder (ATTACHMENT_DIR, default instance/attachments: app/services/core/storage.py)."""
    return attachment_dir()


@dataclass
class StagedFile:
    """A file written under its temporary name; `name` is what the row records."""

    name: str
    temporary: Path
    final: Path


def stage(content: bytes) -> StagedFile:
    """Write the content under a new random name's temporary path, flushed to disk; the transaction recording
    it gives it its final name once committed, or removes it (core/transaction.after_commit)."""
    name = secrets.token_hex(16)
    folder = storage_dir()
    staged = StagedFile(name, folder / (name + PART), folder / name)
    with open(staged.temporary, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    after_commit(lambda: publish(staged), lambda: discard(staged))
    return staged


def publish(staged: StagedFile) -> None:
    """After the commit: give the file its final name."""
    os.replace(staged.temporary, staged.final)


def discard(staged: StagedFile | None) -> None:
    """The transaction failed: remove the temporary file."""
    if staged is not None:
        staged.temporary.unlink(missing_ok=True)


def path_of(name: str) -> Path | None:
    """The stored file of a recorded name, finishing an interrupted publication; None when it is missing."""
    if not _NAME.fullmatch(name or ""):
        return None
    final = storage_dir() / name
    if not final.is_file() and (final.parent / (name + PART)).is_file():
        os.replace(final.parent / (name + PART), final)  # committed, then the process died before the rename
    return final if final.is_file() else None


def referenced(names: set[str]) -> set[str]:
    """Which of these stored names a row or an audit event records."""
    if not names:
        return set()
    found = set(db.session.scalars(select(Attachment.stored_name).where(Attachment.stored_name.in_(names))))
    events = db.session.scalars(select(AuditEvent.data).where(AuditEvent.type == "complainant_attachment")
                                .execution_options(yield_per=1000))
    found |= {str((data or {}).get("stored_name")) for data in events} & names
    return found


@dataclass
class SweepReport:
    published: list[str]
    removed: list[str]


def sweep(older_than_minutes: float | None = None) -> SweepReport:
    """Finish interrupted publications and delete unreferenced files older than the given minutes."""
    minutes = SWEEP_MINUTES if older_than_minutes is None else older_than_minutes
    cutoff = clock.now().timestamp() - minutes * 60
    folder = storage_dir()
    old = {}
    for path in folder.iterdir():
        name = path.name[:-len(PART)] if path.name.endswith(PART) else path.name
        if path.is_file() and _NAME.fullmatch(name) and path.stat().st_mtime < cutoff:
            old.setdefault(name, []).append(path)
    known = referenced(set(old))
    db.session.rollback()  # read only
    report = SweepReport([], [])
    for name, paths in sorted(old.items()):
        if name in known:
            if not (folder / name).is_file() and (folder / (name + PART)).is_file():
                os.replace(folder / (name + PART), folder / name)
                report.published.append(name)
            continue
        for path in paths:
            path.unlink(missing_ok=True)
        report.removed.append(name)
    return report
