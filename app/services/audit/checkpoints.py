"""Signed checkpoints: the heads of every audit chain folded into one Merkle root, signed with Ed25519, kept
outside the database (one JSON file per checkpoint in AUDIT_CHECKPOINT_DIR, optionally e-mailed).

An edit made before a checkpoint changes the hash the checkpoint recorded for that case's chain, whatever was
recomputed afterwards and even with the stolen HMAC key: `verify_chains` names the case. Each checkpoint also
names the previous one (hash of its header), so a removed checkpoint file shows too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import AuditEvent
from app.services.audit import proof
from app.services.core import audit
from app.services.core.audit_keys import key_dir

FORMAT = "reclamations-audit-checkpoint/1"


# --- the signing key -------------------------------------------------------------------------------------

def _key_path() -> Path:
    configured = current_app.config.get("AUDIT_SIGNING_KEY_FILE")
    return Path(configured) if configured else key_dir() / "checkpoint-ed25519.pem"


def signing_key() -> Ed25519PrivateKey:
    """The Ed25519 private key of the checkpoints (generated at first use, mode 0600, outside the database)."""
    path = _key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker generated it first: use theirs
            fd = None
        if fd is not None:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_key_pem() -> bytes:
    """The public key auditors verify checkpoints and exports with (PEM)."""
    return signing_key().public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(message: bytes) -> str:
    return base64.b64encode(signing_key().sign(message)).decode("ascii")


# --- writing ---------------------------------------------------------------------------------------------

def directory() -> Path:
    return Path(current_app.config.get("AUDIT_CHECKPOINT_DIR") or Path(current_app.instance_path) / "checkpoints")


def heads() -> list[list]:
    """[chain, last seq, last hash] for every chain (case reference, None for the global chain), sorted."""
    last = select(AuditEvent.case_id, func.max(AuditEvent.seq).label("seq")).where(
        AuditEvent.case_id.is_not(None)).group_by(AuditEvent.case_id).subquery()
    rows = db.session.execute(select(AuditEvent.case_reference, AuditEvent.seq, AuditEvent.hash).join(
        last, (AuditEvent.case_id == last.c.case_id) & (AuditEvent.seq == last.c.seq))).all()
    leaves = [[r[0], r[1], r[2]] for r in rows]
    glob = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id.is_(None))
                              .order_by(AuditEvent.seq.desc()).limit(1)).first()
    if glob is not None:
        leaves.append([None, glob.seq, glob.hash])
    return proof.sort_leaves(leaves)


def header_digest(header: dict) -> str:
    return hashlib.sha256(proof.canonical(header)).hexdigest()


def create(actor: str = "system") -> dict:
    """Fold every chain head into a signed checkpoint, write it to the checkpoint directory, return it."""
    leaves = heads()
    previous = latest()
    now = clock.now()
    header = {"id": f"{now.astimezone(UTC):%Y%m%dT%H%M%S}Z-{len(files()) + 1:06d}", "at": now.isoformat(),
              "root": proof.merkle_root(leaves), "chains": len(leaves), "actor": actor,
              "previous": header_digest(previous["header"]) if previous else None,
              "public_key": proof.public_key_id(public_key_pem())}
    document = {"format": FORMAT, "header": header, "signature": sign(proof.canonical(header)), "leaves": leaves}
    target = directory()
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"checkpoint-{header['id']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(proof.canonical(document))
    tmp.replace(path)
    _mail(document, path)
    return document


def _mail(document: dict, path: Path) -> None:
    """Send the checkpoint to the auditors' address when configured (SMTP_URL); a failure is logged, not fatal."""
    address = current_app.config.get("AUDIT_CHECKPOINT_EMAIL")
    url = current_app.config.get("SMTP_URL")
    if not address or not url:
        return
    from app.services.messaging.outbox import parse_smtp_url, smtp_session

    message = EmailMessage()
    message["From"], message["To"] = current_app.config.get("MAIL_FROM"), address
    message["Subject"] = f"Point de contrôle d'audit {document['header']['id']}"
    message.set_content(f"Racine signée : {document['header']['root']}\n"
                        f"Chaînes : {document['header']['chains']}\nSignature : {document['signature']}\n")
    message.add_attachment(path.read_bytes(), maintype="application", subtype="json", filename=path.name)
    try:
        with smtp_session(parse_smtp_url(url)) as smtp:
            smtp.send_message(message)
    except (OSError, ValueError) as exc:
        current_app.logger.warning("checkpoint e-mail failed: %s", exc)


def due(hours: float | None = None) -> bool:
    """Whether a checkpoint is due: none yet, or the latest is older than AUDIT_CHECKPOINT_HOURS (read from the
    file name, so the timer worker's frequent question costs a directory listing, not a parse)."""
    hours = current_app.config.get("AUDIT_CHECKPOINT_HOURS", 24) if hours is None else hours
    found = files()
    if not found:
        return True
    try:
        at = datetime.strptime(found[-1].name[len("checkpoint-"):][:16], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        at = datetime.fromisoformat(_read(found[-1])["header"]["at"])
    return at <= clock.now() - timedelta(hours=hours)


# --- reading ---------------------------------------------------------------------------------------------

def files() -> list[Path]:
    target = directory()
    return sorted(target.glob("checkpoint-*.json")) if target.is_dir() else []


def _read(path: Path) -> dict:
    return json.loads(path.read_bytes())


def latest() -> dict | None:
    found = files()
    return _read(found[-1]) if found else None


_ANCHORS: dict[tuple, dict] = {}


def anchors() -> tuple[dict | None, dict | None]:
    """The latest checkpoint (header and signature) and its {chain: (seq, hash)} map; cached per file."""
    found = files()
    if not found:
        return None, None
    path = found[-1]
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _ANCHORS:
        document = _read(path)
        _ANCHORS.clear()
        _ANCHORS[key] = {"document": document, "map": {leaf[0]: (leaf[1], leaf[2]) for leaf in document["leaves"]}}
    cached = _ANCHORS[key]
    return cached["document"], cached["map"]


@dataclass
class CheckpointProblem:
    name: str
    message: str


def check_files(everything: bool = False) -> list[CheckpointProblem]:
    """Signature, root and link of the latest checkpoint to the one before (of every checkpoint with
    everything=True, the first naming none)."""
    found = files()
    public = proof.load_public_key(public_key_pem())
    chosen = found if everything else found[-2:]
    problems, previous = [], None
    for index, path in enumerate(chosen):
        try:
            document = _read(path)
            header = document["header"]
        except (ValueError, KeyError, TypeError):
            problems.append(CheckpointProblem(path.name, "fichier illisible"))
            previous = None
            continue
        if not proof.signature_ok(public, document.get("signature", ""), proof.canonical(header)):
            problems.append(CheckpointProblem(path.name, "signature invalide"))
        if proof.merkle_root(document.get("leaves") or []) != header.get("root"):
            problems.append(CheckpointProblem(path.name, "racine ne correspondant pas aux têtes de chaîne"))
        # (after an unreadable file, already reported, the link cannot be checked)
        if (index > 0 and previous is not None) or (everything and index == 0):
            expected = header_digest(previous) if previous else None
            if header.get("previous") != expected:
                problems.append(CheckpointProblem(path.name, "lien vers le point de contrôle précédent rompu"))
        previous = header
    return problems


def verify_chains(reference: str | None = None) -> list[audit.ChainProblem]:
    """Every chain (or one case's) checked against the latest signed checkpoint; a rewritten history is
    narrowed down with the older checkpoints (the edit lies after the last one the chain still matches)."""
    _document, anchor_map = anchors()
    problems = audit.verify(reference, anchor_map)
    for problem in problems:
        if problem.message.startswith(audit.REWRITTEN):
            since = _last_matching_seq(problem.reference, problem.seq) + 1
            problem.message = audit.rewritten_message(since, problem.seq)
    return problems


def _last_matching_seq(reference: str | None, upto: int) -> int:
    """The seq of the latest older checkpoint whose head of this chain the database still has (0: none)."""
    for path in reversed(files()[:-1]):
        try:
            leaf = next((leaf for leaf in _read(path)["leaves"] if leaf[0] == reference), None)
        except (ValueError, KeyError, TypeError):
            continue
        if leaf is None:
            return 0  # the chain did not exist yet: nothing older can vouch for it
        if leaf[1] < upto and audit.hash_at(reference, leaf[1]) == leaf[2]:
            return leaf[1]
    return 0


def inclusion(reference: str) -> dict | None:
    """The latest checkpoint and the proof that the case's chain head (as then) is in its root."""
    document, _ = anchors()
    if document is None:
        return None
    leaves = document["leaves"]
    index = next((i for i, leaf in enumerate(leaves) if leaf[0] == reference), None)
    if index is None:
        return None
    levels = proof.merkle_levels(leaves)
    return {"checkpoint": {"header": document["header"], "signature": document["signature"]},
            "proof": {"leaf": leaves[index], "index": index, "path": proof.inclusion_proof(levels, index)}}


@dataclass
class ChainStatus:
    """The cheap check of one case's chain (hashes and links, against the latest checkpoint) for its pages."""

    problems: list[audit.ChainProblem]
    checkpoint: dict | None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> audit.ChainProblem | None:
        return min(self.problems, key=lambda p: p.seq) if self.problems else None

    @property
    def bad(self) -> set[int]:
        return {p.seq for p in self.problems}


def chain_status(reference: str) -> ChainStatus:
    """Check a case's chain now (no replay): what every page showing its history says first."""
    document, _anchor_map = anchors()
    return ChainStatus(verify_chains(reference), document["header"] if document else None)
