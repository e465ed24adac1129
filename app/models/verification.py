"""The last audit verification of each case (hash chain + replay), shown as a "vérifié" mark."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JSONType, UTCDateTime


class CaseVerification(db.Model):
    __tablename__ = "case_verification"

    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_by: Mapped[str] = mapped_column(String(80))
    ok: Mapped[bool] = mapped_column(default=False)
    # The seq of the last event the check covered: events added later are not covered by the mark.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    differences: Mapped[list] = mapped_column(JSONType, default=list)
