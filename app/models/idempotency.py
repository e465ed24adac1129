"""Form submissions already carried out, by their idempotency key: a retried post gets the original result."""

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JSONType, UTCDateTime


class IdempotencyKey(db.Model):
    """One key of one form (scope): written in the same transaction as what the submission did."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),
                      Index("ix_idempotency_key_created", "created_at"))  # the daily pruning

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(120))  # the form and who sent it, e.g. "cases.comment:gestionnaire"
    key: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
