"""Case search for the staff pages: filters on the indexed business columns, newest first, paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select

from app.extensions import db
from app.models import Case
from app.services.core import bounds
from app.services.core.calendar import day_start
from app.services.core.errors import Invalid
from app.services.core.search import like_escape


@dataclass
class CaseFilters:
    q: str | None = None  # reference prefix, customer name, e-mail or invoice reference part
    status: str | None = None
    process: str | None = None
    channel: str | None = None
    origin: str | None = None
    received_from: date | None = None
    received_to: date | None = None
    open_only: bool = False


def _day_start(day: date) -> datetime:
    return day_start(day)  # typed dates are Paris days


def query_for(f: CaseFilters):
    """The select of cases matching the filters."""
    bounds.check_day(f.received_from, "received_from")
    bounds.check_day(f.received_to, "received_to")
    if f.received_from and f.received_to and f.received_from > f.received_to:
        raise Invalid({"received_to": "La date de fin précède la date de début."})
    query = select(Case)
    text = (f.q or "").strip()[:100]
    if text:
        part = "%" + like_escape(text) + "%"
        query = query.where(or_(Case.reference.ilike(like_escape(text) + "%", escape="\\"),
                                Case.customer_name.ilike(part, escape="\\"),
                                Case.customer_email.ilike(part, escape="\\"),
                                Case.invoice_refs.ilike(part, escape="\\")))
    for column, value in ((Case.status, f.status), (Case.process_key, f.process), (Case.channel, f.channel),
                          (Case.origin, f.origin)):
        if value:
            query = query.where(column == value)
    if f.received_from:
        query = query.where(Case.received_at >= _day_start(f.received_from))
    if f.received_to:
        query = query.where(Case.received_at < _day_start(f.received_to + timedelta(days=1)))
    if f.open_only:
        query = query.where(Case.completed.is_(False))
    return query


def search(f: CaseFilters, limit: int = 50, offset: int = 0) -> tuple[list[Case], int]:
    """One page of matching cases (received newest first) and the total count."""
    query = query_for(f)
    total = db.session.scalar(query.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)) or 0
    rows = db.session.scalars(query.order_by(Case.received_at.desc(), Case.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def known_values() -> dict[str, list[str]]:
    """Distinct statuses, processes, channels and origins present, for the filter drop-downs."""
    found = {}
    for name, column in (("status", Case.status), ("process", Case.process_key), ("channel", Case.channel),
                         ("origin", Case.origin)):
        found[name] = [v for v in db.session.scalars(select(column).distinct().order_by(column)) if v]
    return found
