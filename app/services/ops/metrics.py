"""The /metrics scrape: the processes' counters and histograms (summed across gunicorn workers) and gauges
read from the database at scrape time.

Counters and histograms are defined in app/services/core/metrics.py. With PROMETHEUS_MULTIPROC_DIR set (gunicorn
does it, gunicorn.conf.py), each process writes its own file there and a scrape sums them all
(`MultiProcessCollector`), whichever worker answers it.

The gauges come from *sources*: functions of the scrape instant returning metric families. The database
gauges below are one; another capability adds its own with `register_source` at import time, e.g. the mail
queue: `register_source(mail_queue_gauges)` in the module that owns the mail table, yielding
`reclamations_mail_messages{status}` and `reclamations_mail_oldest_pending_age_seconds` from it (README,
"Monitoring"). Nothing is exposed for a queue that does not exist.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from app import clock
from app.extensions import db
from app.models import Case, OutboxMessage, TaskRow, WorkerHeartbeat
from app.services.core.metrics import PREFIX

log = logging.getLogger("reclamations.metrics")
Source = Callable[[datetime], Iterable[Metric]]
SOURCES: list[Source] = []
QUEUED = ("pending", "sending", "failed", "to_print")  # outbox statuses still waiting for someone or something


def register_source(source: Source) -> Source:
    """Add a function of the scrape instant that yields gauges (metric families); usable as a decorator."""
    if source not in SOURCES:
        SOURCES.append(source)
    return source


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=labels)


def _age(now: datetime, then: datetime | None) -> float:
    return max((now - then).total_seconds(), 0.0) if then is not None else 0.0


@register_source
def database_gauges(now: datetime) -> Iterable[Metric]:
    """Open cases and tasks, overdue tasks, timer lag, the outbox queue, incidents, workers' heartbeats."""
    with db.engine.connect() as conn:
        cases = _gauge("open_cases", "Cases not completed yet, per process and status.", ["process", "status"])
        for process, status, count in conn.execute(select(Case.process_key, Case.status, func.count())
                                                   .where(Case.completed.is_(False))
                                                   .group_by(Case.process_key, Case.status)):
            cases.add_metric([process, status], count)
        yield cases
        ready = select(TaskRow.lane, func.count()).where(TaskRow.state == "ready").group_by(TaskRow.lane)
        tasks = _gauge("open_tasks", "Ready human tasks, per lane.", ["lane"])
        for lane, count in conn.execute(ready):
            tasks.add_metric([lane or ""], count)
        yield tasks
        overdue = _gauge("overdue_tasks", "Ready tasks past their due date, per lane.", ["lane"])
        for lane, count in conn.execute(ready.where(TaskRow.due_at < now)):
            overdue.add_metric([lane or ""], count)
        yield overdue
        due = (select(func.count(), func.min(Case.next_timer_at))
               .where(Case.next_timer_at < now, Case.completed.is_(False), Case.incident.is_(None)))
        due_count, oldest_timer = conn.execute(due).one()
        lag = _gauge("timer_lag_seconds", "Now minus the oldest timer due and not fired yet (0: none late).")
        lag.add_metric([], _age(now, oldest_timer))
        yield lag
        timers = _gauge("timers_due", "Case timers due and not fired yet.")
        timers.add_metric([], due_count)
        yield timers
        outbox = _gauge("outbox_messages", "Messages to complainants not sent yet, per status.", ["status"])
        counts = dict(conn.execute(select(OutboxMessage.status, func.count())
                                   .where(OutboxMessage.status.in_(QUEUED)).group_by(OutboxMessage.status)).all())
        for status in QUEUED:
            outbox.add_metric([status], counts.get(status, 0))
        yield outbox
        oldest = conn.execute(select(func.min(OutboxMessage.created_at))
                              .where(OutboxMessage.status.in_(("pending", "sending")))).scalar()
        age = _gauge("outbox_oldest_pending_age_seconds", "Age of the oldest message waiting to be sent (0: none).")
        age.add_metric([], _age(now, oldest))
        yield age
        incidents = _gauge("incidents", "Cases stopped by an incident (failing script, condition or service task).")
        incidents.add_metric([], conn.execute(select(func.count()).where(Case.incident.is_not(None))).scalar())
        yield incidents
        beats = _gauge("worker_heartbeat_age_seconds", "Seconds since each background worker's last pass.",
                       ["worker"])
        for name, beat_at in conn.execute(select(WorkerHeartbeat.name, WorkerHeartbeat.beat_at)):
            beats.add_metric([name], _age(now, beat_at))
        yield beats


class _Sources:
    """Collector running every source at scrape time; a failing database gives database_up 0, not an error."""

    def collect(self):
        now, up = clock.now(), 1
        for source in SOURCES:
            try:
                yield from list(source(now))
            except SQLAlchemyError:
                log.warning("metrics source %s failed", source.__name__, exc_info=True)
                up = 0
        gauge = _gauge("database_up", "1 when the scrape could read the database, else 0.")
        gauge.add_metric([], up)
        yield gauge


class _ThisProcess:
    def collect(self):
        yield from REGISTRY.collect()


def scrape() -> bytes:
    """The exposition text: every process's counters and histograms, then the sources' gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_Sources())
    return generate_latest(registry)
