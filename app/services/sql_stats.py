"""Portable SQL building blocks for indicators: moments, durations and percentiles (SQLite and PostgreSQL).

Percentiles follow PostgreSQL's percentile_cont definition, computed the same way on both backends (SQLite has
no percentile aggregate), so the figures are identical whatever the database. `walk_percentiles` reads, for
each wanted rank, the two values around it with ORDER BY value LIMIT 2 OFFSET rank, which an index led by the
equality columns and the value answers by stepping through index entries only.
"""

import math
from datetime import datetime

from sqlalchemy import func, literal, select

from app.extensions import db
from app.models.types import UTCDateTime


def dialect() -> str:
    return db.session.get_bind().dialect.name


def moment(value: datetime):
    """A bound UTC datetime usable inside SQL expressions on both backends."""
    return literal(value, type_=UTCDateTime())


def seconds_between(start, end):
    """SQL expression: seconds from start to end (both datetime columns or bound moments)."""
    if dialect() == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def walk_percentiles(value, conditions: list, count: int, ps=(0.5, 0.9)) -> dict[float, float | None]:
    """percentile_cont(p) of column `value` over the rows matching `conditions`, of which there are `count`.

    Two short queries per p (ORDER BY value LIMIT 2 OFFSET floor(p * (count - 1))); `count` comes from the
    caller, who usually has it from a rollup or a range count.
    """
    out: dict[float, float | None] = {}
    if count <= 0:
        return dict.fromkeys(ps)
    base = select(value).where(value.is_not(None), *conditions).order_by(value)
    for p in ps:
        h = p * (count - 1)
        lo = math.floor(h)
        values = [float(v) for v in db.session.scalars(base.limit(2).offset(lo))]
        if not values:
            out[p] = None
            continue
        high = values[1] if len(values) > 1 else values[0]
        out[p] = values[0] + (h - lo) * (high - values[0])
    return out
