"""Personal data: sealed values in the audit trail (crypto-shredding), the access log, privacy requests.

Sealing. The audit chain must stay verifiable after a person's data is erased, and audit rows are append-only.
So personal values never enter an audit row in clear: `audit.record` replaces each of them by a token
`{"$pii": "v1:<base64 nonce + AES-256-GCM ciphertext>"}` encrypted with the case's own data key
(`case_record.data_key`, 32 random bytes), and the chain hashes the token. Erasure destroys the key: the tokens
stay, the hashes still verify, and nobody can read the values any more; `AuditEvent.data` then shows
`ERASED` where they were, which is also what the case's anonymised data holds, so a replay still matches.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JSONType, UTCDateTime

TOKEN = "$pii"
ERASED = "[donnée effacée]"
_PREFIX = "v1:"


def new_data_key() -> bytes:
    """A fresh 256-bit key for one case's personal values."""
    return os.urandom(32)


def seal_value(key: bytes, value, context: str) -> dict:
    """The token standing for `value` (any JSON value), bound to `context` (the case reference)."""
    nonce = os.urandom(12)
    clear = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    sealed = AESGCM(key).encrypt(nonce, clear, context.encode("utf-8"))
    return {TOKEN: _PREFIX + base64.b64encode(nonce + sealed).decode("ascii")}


def is_token(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and TOKEN in value


def open_value(key: bytes | None, token: dict, context: str):
    """The value behind a token, or ERASED when the key is gone (or the token does not open)."""
    if key is None:
        return ERASED
    raw = token[TOKEN]
    if not isinstance(raw, str) or not raw.startswith(_PREFIX):
        return ERASED
    blob = base64.b64decode(raw[len(_PREFIX):])
    try:
        clear = AESGCM(key).decrypt(blob[:12], blob[12:], context.encode("utf-8"))
    except (InvalidTag, ValueError):
        return ERASED
    return json.loads(clear)


def reveal(value, key: bytes | None, context: str):
    """A copy of a JSON value with every token opened (or ERASED)."""
    if is_token(value):
        return open_value(key, value, context)
    if isinstance(value, dict):
        return {k: reveal(v, key, context) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v, key, context) for v in value]
    return value


def has_tokens(value) -> bool:
    if is_token(value):
        return True
    if isinstance(value, dict):
        return any(has_tokens(v) for v in value.values())
    if isinstance(value, list):
        return any(has_tokens(v) for v in value)
    return False


class AccessLog(db.Model):
    """Who displayed which case, task, attachment or export, when (not in the case chains; kept for a while)."""

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_user_at", "username", "at"),
        Index("ix_access_case_at", "case_id", "at"),
        Index("ix_access_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    username: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))  # case, task, attachment, export, subject_access...
    target: Mapped[str] = mapped_column(String(200))
    case_id: Mapped[int | None] = mapped_column(Integer)


class PrivacyRequest(db.Model):
    """A subject-access answer, an erasure or a retention purge: who, when, why, which cases (no personal value)."""

    __tablename__ = "privacy_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # access, erasure, purge
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(Text)
    subject_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the normalised search term
    cases: Mapped[list] = mapped_column(JSONType, default=list)  # references
    report: Mapped[dict] = mapped_column(JSONType, default=dict)


class LegalHold(db.Model):
    """A case kept whatever its retention period (litigation, investigation): set and lifted with a reason."""

    __tablename__ = "legal_hold"

    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())
