"""Restore a backup (app/services/ops/backup.py) onto an empty database and an empty attachment folder.

Nothing is written before every check passed: the manifest is readable and of a known format, every file's
SHA-256 matches it (and no file is missing or extra), the schema revision is one this code knows, the
database has no table and the attachment folder holds no file. Then the database is loaded, the
attachments and the instance files (keys) are written; an instance file that exists with other content
(the secret key a new instance generated) is kept beside it as `<name>.before-restore`.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from alembic.script import ScriptDirectory
from flask import current_app

from app.services.core.errors import Invalid
from app.services.core.storage import attachment_dir, instance_dir
from app.services.ops import backup, dumps

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _refuse(message: str):
    raise Invalid({"backup": message})


def read_manifest(archive: tarfile.TarFile) -> dict:
    try:
        manifest = json.load(archive.extractfile("manifest.json"))
    except (KeyError, AttributeError, ValueError):
        _refuse("Ce fichier n'est pas une sauvegarde de l'application (manifest.json absent ou illisible).")
    if manifest.get("format") != backup.FORMAT or manifest.get("application") != "reclamations":
        _refuse(f"Format de sauvegarde non pris en charge ({manifest.get('format')!r}).")
    return manifest


def _safe(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        _refuse(f"Chemin refusé dans la sauvegarde : {name}")
    return path


def check_files(archive: tarfile.TarFile, manifest: dict) -> None:
    """Every listed file is present with its size and SHA-256; nothing else is in the archive."""
    listed = {entry["path"]: entry for entry in manifest.get("files", [])}
    seen = set()
    for member in archive.getmembers():
        if member.name == "manifest.json":
            continue
        _safe(member.name)
        entry = listed.get(member.name)
        if entry is None or not member.isfile():
            _refuse(f"Fichier inattendu dans la sauvegarde : {member.name}")
        digest = hashlib.sha256()
        handle = archive.extractfile(member)
        while block := handle.read(1 << 20):
            digest.update(block)
        if digest.hexdigest() != entry["sha256"] or member.size != entry["size"]:
            _refuse(f"Somme de contrôle incorrecte pour {member.name} : la sauvegarde est endommagée.")
        seen.add(member.name)
    missing = sorted(set(listed) - seen)
    if missing:
        _refuse("Fichiers manquants dans la sauvegarde : " + ", ".join(missing[:5]))
    if manifest.get("database") not in seen:
        _refuse("La sauvegarde ne contient pas de copie de la base.")


def check_revision(revision: str | None) -> None:
    if revision is None:
        return
    try:
        known = ScriptDirectory(str(MIGRATIONS)).get_revision(revision)
    except Exception:  # noqa: BLE001 - alembic raises several types for an unknown id
        known = None
    if known is None:
        _refuse(f"La sauvegarde est au schéma « {revision} », inconnu de cette version de l'application : "
                "restaurez-la avec la version qui l'a faite (ou une plus récente).")


@dataclass
class RestoreResult:
    manifest: dict
    attachments: int
    instance_files: int
    kept_aside: list[str]


def restore(file: Path) -> RestoreResult:
    """Check, then restore the backup file onto this app's empty database and attachment folder."""
    file = Path(file)
    if not file.is_file():
        _refuse(f"Sauvegarde introuvable : {file}")
    try:
        archive = tarfile.open(file, "r:")
    except tarfile.TarError:
        _refuse("Ce fichier n'est pas une sauvegarde de l'application (archive tar illisible).")
    with archive:
        manifest = read_manifest(archive)
        check_files(archive, manifest)
        check_revision(manifest.get("schema_revision"))
        if not dumps.is_empty():
            _refuse("La base de destination n'est pas vide : la restauration se fait sur une base neuve "
                    "(créez-en une vide, ou videz celle-ci, puis recommencez).")
        files = attachment_dir(create=False)
        if files.is_dir() and any(p.is_file() for p in files.rglob("*")):
            _refuse(f"Le dossier des pièces jointes n'est pas vide ({files}) : choisissez un dossier vide.")
        with tempfile.TemporaryDirectory() as work:
            archive.extract(manifest["database"], work, filter="data")
            dumps.load(Path(work) / manifest["database"], manifest["backend"])
        attachments, instance_count, kept_aside = 0, 0, []
        for member in archive.getmembers():
            path = _safe(member.name)
            if path.parts[0] == "attachments":
                _write(files.joinpath(*path.parts[1:]), archive.extractfile(member).read())
                attachments += 1
            elif path.parts[0] == "instance":
                target = instance_dir().joinpath(*path.parts[1:])
                content = archive.extractfile(member).read()
                if target.is_file() and target.read_bytes() != content:
                    aside = target.with_name(target.name + ".before-restore")
                    target.replace(aside)
                    kept_aside.append(str(aside))
                _write(target, content, private=True)
                instance_count += 1
            elif path.parts[0] in backup.KEY_FOLDERS:  # audit keys and checkpoints configured outside the instance
                target = Path(current_app.config[backup.KEY_FOLDERS[path.parts[0]]]).joinpath(*path.parts[1:])
                if not target.is_file():
                    _write(target, archive.extractfile(member).read(), private=True)
                instance_count += 1
    return RestoreResult(manifest, attachments, instance_count, kept_aside)


def _write(target: Path, content: bytes, private: bool = False) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    if private:  # keys: readable by the application's user only
        target.chmod(0o600)
