"""Operations: the background workers' heartbeats, read by the readiness check and the metrics."""

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime


class WorkerHeartbeat(db.Model):
    """The last pass of a kind of background worker (`timers`, `outbox`, …), whichever instance made it."""

    __tablename__ = "worker_heartbeat"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when that instance started
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    passes: Mapped[int] = mapped_column(Integer, default=0)  # passes made by that instance
    last_error: Mapped[str | None] = mapped_column(Text)  # the last pass's failure, None when it went through
