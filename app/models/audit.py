"""Append-only audit events, hash-chained per case (case_id NULL: the global chain, e.g. deployments)."""

from datetime import datetime

from sqlalchemy import DDL, ForeignKey, Index, Integer, String, event
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, object_session

from app.extensions import db
from app.models.privacy import has_tokens, reveal
from app.models.types import JSONType, UTCDateTime


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_case_seq", "case_id", "seq", unique=True),
        Index("ix_audit_actor_at", "actor", "at"),
        Index("ix_audit_type_at", "type", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"))
    case_reference: Mapped[str | None] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(36))
    bpmn_id: Mapped[str | None] = mapped_column(String(200))
    definition_id: Mapped[int | None] = mapped_column(Integer)
    # What is stored and hashed: personal values sealed (app/models/privacy.py). `data` below is what people read.
    sealed: Mapped[dict] = mapped_column("data", JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The audit key that keyed the hash (HMAC); NULL: a plain SHA-256 written before keying.
    key_id: Mapped[str | None] = mapped_column(String(40))

    @hybrid_property
    def data(self) -> dict:
        """The event's data with its personal values opened with the case's key (ERASED once the key is gone)."""
        stored = self.sealed
        cached = self.__dict__.get("_revealed")
        if cached is not None and cached[0] is stored:
            return cached[1]
        shown = reveal(stored, self._case_key(), self.case_reference or "") if has_tokens(stored) else stored
        self.__dict__["_revealed"] = (stored, shown)
        return shown

    @data.inplace.setter
    def _data_setter(self, value: dict) -> None:
        self.sealed = value

    @data.inplace.expression
    @classmethod
    def _data_expression(cls):
        """In SQL, `AuditEvent.data` is the stored column (tokens included: never compare personal values)."""
        return cls.sealed

    def _case_key(self) -> bytes | None:
        from app.models.case import Case

        session = object_session(self)
        if session is None or self.case_id is None:
            return None
        with session.no_autoflush:
            case = session.get(Case, self.case_id)
        return case.data_key if case is not None else None


# The database itself refuses UPDATE and DELETE on the audit table: append-only is not left to the code.
SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
]
_PG_TRIGGER = [
    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_event is append-only'; END; $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
]
for _sql in SQLITE_TRIGGERS:
    event.listen(AuditEvent.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in _PG_TRIGGER:
    event.listen(AuditEvent.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql"))
