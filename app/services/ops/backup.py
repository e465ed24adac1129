"""Backups: one tar file holding a consistent database copy, the attachment files and the instance folder's keys.

Layout of `reclamations-YYYYMMDDTHHMMSSZ.tar`:
  manifest.json              app version, schema revision, created_at, backend, counts, every file's SHA-256
  database.sqlite | database.pgdump
  attachments/<stored name>  the attachment folder (ATTACHMENT_DIR)
  instance/<name>            every file of the instance folder but the SQLite database (secret_key, other keys)
and beside it `….tar.sha256` (`sha256sum -c` format) for the archive itself.

Consistency: the database is copied first (one snapshot), then the files. An attachment's file is written
before the transaction that records it commits, so every attachment the copy knows has its file in the
backup; a file of a later attachment may be there too, unused (harmless).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC
from importlib import metadata
from pathlib import Path

from flask import current_app
from sqlalchemy import text

from app import clock
from app.extensions import db
from app.services.core.errors import Invalid
from app.services.core.storage import attachment_dir, instance_dir
from app.services.ops import dumps

FORMAT = 1
NAME = re.compile(r"^reclamations-\d{8}T\d{6}Z\.tar$")
COUNTED = {"cases": "case_record", "tasks": "task", "audit_events": "audit_event", "outbox_messages": "outbox_message",
           "attachments": "attachment", "users": "user_account"}
_SKIP_SUFFIXES = ("-wal", "-shm", "-journal")


# Folders of keys the configuration may put outside the instance folder: archive section -> config name.
KEY_FOLDERS = {"audit_keys": "AUDIT_KEY_DIR", "checkpoints": "AUDIT_CHECKPOINT_DIR"}


def app_version() -> str:
    try:
        return metadata.version("reclamations")
    except metadata.PackageNotFoundError:
        return "inconnue"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_dir() -> Path:
    return Path(current_app.config.get("BACKUP_DIR") or instance_dir() / "backups")


def _counts() -> dict:
    with db.engine.connect() as conn:
        return {key: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() for key, table in COUNTED.items()}


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def instance_files(exclude: list[Path]) -> list[Path]:
    """Files of the instance folder to keep: all but the SQLite database (and its journals) and excluded folders."""
    root = instance_dir().resolve()
    if not root.is_dir():
        return []
    database = dumps.sqlite_path() if dumps.backend() == "sqlite" else None
    kept = []
    for path in sorted(p.resolve() for p in root.rglob("*") if p.is_file()):
        if database is not None and (path == database or any(str(path) == str(database) + s for s in _SKIP_SUFFIXES)):
            continue
        if any(_inside(path, folder.resolve()) for folder in exclude):
            continue
        kept.append(path)
    return kept


@dataclass
class BackupResult:
    path: Path
    manifest: dict
    pruned: list[Path]


def create(folder: Path | None = None, keep: int | None = None) -> BackupResult:
    """Write a backup into folder (default BACKUP_DIR, else instance/backups); keep only the `keep` newest."""
    folder = Path(folder or default_dir()).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    created = clock.now().astimezone(UTC)
    name = f"reclamations-{created:%Y%m%dT%H%M%SZ}.tar"
    target = folder / name
    if target.exists():
        raise Invalid({"backup": f"La sauvegarde {name} existe déjà : attendez une seconde et recommencez."})
    attachments = attachment_dir(create=False).resolve()
    with tempfile.TemporaryDirectory(dir=folder, prefix=".backup-") as work:
        dump_file = dumps.dump(Path(work))  # first: the files below are a superset of what it references
        members = [(dump_file.name, dump_file)]
        if attachments.is_dir():
            members += [(f"attachments/{p.relative_to(attachments).as_posix()}", p)
                        for p in sorted(attachments.rglob("*")) if p.is_file()]
        root = instance_dir().resolve()
        members += [(f"instance/{p.relative_to(root).as_posix()}", p)
                    for p in instance_files([attachments, folder, Path(work)])]
        for section, folder_of in KEY_FOLDERS.items():  # audit keys and checkpoints kept outside the instance
            keys = Path(current_app.config.get(folder_of) or "").resolve()
            if current_app.config.get(folder_of) and keys.is_dir() and not _inside(keys, root):
                members += [(f"{section}/{p.relative_to(keys).as_posix()}", p)
                            for p in sorted(keys.rglob("*")) if p.is_file()]
        manifest = {
            "format": FORMAT, "application": "reclamations", "app_version": app_version(),
            "schema_revision": dumps.schema_revision(), "backend": dumps.backend(),
            "created_at": created.isoformat(timespec="seconds"), "database": dump_file.name,
            "counts": _counts(),
            "files": [{"path": arcname, "size": path.stat().st_size, "sha256": sha256_file(path)}
                      for arcname, path in members],
        }
        partial = Path(work) / (name + ".part")
        with tarfile.open(partial, "w") as archive:
            body = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime = len(body), int(created.timestamp())
            archive.addfile(info, io.BytesIO(body))
            for arcname, path in members:
                archive.add(path, arcname=arcname, recursive=False)
        partial.chmod(0o600)  # it holds the keys
        partial.replace(target)  # complete or absent: never a half-written file under the final name
    checksum = target.with_name(name + ".sha256")
    checksum.write_text(f"{sha256_file(target)}  {name}\n")
    pruned = prune(folder, keep) if keep else []
    return BackupResult(target, manifest, pruned)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` newest backups of folder (and their checksum files); return the deleted ones."""
    backups = sorted(p for p in folder.iterdir() if NAME.match(p.name))
    doomed = backups[:-keep] if keep > 0 else []
    for path in doomed:
        path.unlink()
        path.with_name(path.name + ".sha256").unlink(missing_ok=True)
    return doomed
