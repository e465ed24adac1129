"""Rate-limit counters shared by every worker (the `database://` storage of app/ops/rate_limits.py)."""

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime


class RateLimitCounter(db.Model):
    """One fixed window of one limit for one client: hits counted until expires_at, then a new window."""

    __tablename__ = "rate_limit_counter"
    __table_args__ = (Index("ix_rate_limit_counter_expires", "expires_at"),)  # the cleanup of expired windows

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=0)
