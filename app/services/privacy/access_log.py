"""The access log: every display of a case, a task, an attachment or an export by a staff user.

Written by an after-request hook (app/privacy/__init__.py) in a short transaction of its own, in a table of
its own (not the case chains); kept `ACCESS_LOG_DAYS` days (default 365, `flask privacy purge` prunes it).
Bulk or unusual access — a user who displayed more than `ACCESS_ALERT_CASES_PER_HOUR` distinct cases within
one hour (default 50) — is flagged on the privacy and admin pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from app import clock
from app.extensions import db
from app.models import AccessLog, Case, User
from app.services.core.transaction import transaction
from app.services.privacy.subjects import require_privacy


def record(username: str, action: str, target: str, reference: str | None = None) -> None:
    """Append one access (its own transaction: a page view changes nothing else)."""
    with transaction():
        case_id = None
        if reference:
            case_id = db.session.scalar(select(Case.id).where(Case.reference == reference))
        db.session.add(AccessLog(at=clock.now(), username=username, action=action, target=target[:200],
                                 case_id=case_id))


def entries(user: User, username: str | None = None, reference: str | None = None,
            limit: int = 200) -> list[AccessLog]:
    """The latest accesses, optionally of one user or one case (privacy readers only)."""
    require_privacy(user)
    query = select(AccessLog).order_by(AccessLog.at.desc(), AccessLog.id.desc()).limit(limit)
    if username:
        query = query.where(AccessLog.username == username.strip())
    if reference:
        case_id = db.session.scalar(select(Case.id).where(Case.reference == reference.strip()))
        query = query.where(AccessLog.case_id == (case_id or -1))
    return list(db.session.scalars(query))


@dataclass
class Alert:
    username: str
    hour: datetime
    cases: int


def alerts(since_hours: int = 24 * 7) -> list[Alert]:
    """Users who displayed more distinct cases within one clock hour than the threshold, over the last week."""
    threshold = int(current_app.config.get("ACCESS_ALERT_CASES_PER_HOUR", 50))
    since = clock.now() - timedelta(hours=since_hours)
    rows = db.session.execute(select(AccessLog.username, AccessLog.at, AccessLog.case_id)
                              .where(AccessLog.at >= since, AccessLog.case_id.is_not(None)))
    buckets: dict[tuple[str, datetime], set[int]] = {}
    for username, at, case_id in rows:
        buckets.setdefault((username, at.replace(minute=0, second=0, microsecond=0)), set()).add(case_id)
    return sorted((Alert(u, h, len(ids)) for (u, h), ids in buckets.items() if len(ids) > threshold),
                  key=lambda a: (a.hour, a.username), reverse=True)


def prune() -> int:
    """Delete entries older than the retention of the log; return how many."""
    days = int(current_app.config.get("ACCESS_LOG_DAYS", 365))
    with transaction():
        removed = db.session.execute(delete(AccessLog).where(AccessLog.at < clock.now() - timedelta(days=days)))
    return removed.rowcount or 0


def count(username: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AccessLog).where(AccessLog.username == username)) or 0
