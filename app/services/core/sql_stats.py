"""Portable SQL building blocks for indicators: moments, durations and percentiles (SQLite and PostgreSQL).

Percentiles follow PostgreSQL's percentile_cont definition, computed the same way on both backends (SQLite has
no percentile aggregate), so the figures are identical whatever the database. `percentiles_of` picks between
two ways that give the same numbers: a small population is read whole through the period's index range and
sorted here; a large one is walked: for each wanted rank, the two values around it come from ORDER BY value
LIMIT 2 OFFSET rank, which an index led by the equality columns and the value answers from its entries alone.
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


FETCH_LIMIT = 4000  # up to this many values, reading them all is cheaper than two index walks per percentile


def percentiles_of(value, conditions: list, count: int, period: tuple, ps=(0.5, 0.9)) -> dict[float, float | None]:
    """percentile_cont(p) of column `value` over the rows matching `conditions` and `period`, `count` rows.

    `count` comes from the caller (a rollup or a range count); `period` is (column, start, end), start included.
    """
    if count <= 0:
        return dict.fromkeys(ps)
    column, start, end = period
    if count <= FETCH_LIMIT:
        values = sorted(float(v) for v in db.session.scalars(select(value).where(
            value.is_not(None), column >= start, column < end, *conditions)))
        return {p: _interpolate(values, p) for p in ps}
    # SQLite would take the period's index range and sort it: the same value through coalesce has no range.
    # PostgreSQL's planner picks the walk itself from its estimates, which an expression would spoil.
    hidden = func.coalesce(column, column) if dialect() == "sqlite" else column
    return walk_percentiles(value, [hidden >= start, hidden < end, *conditions], count, ps)


def _interpolate(values: list[float], p: float) -> float | None:
    """percentile_cont(p) of sorted values."""
    if not values:
        return None
    h = p * (len(values) - 1)
    return _between(values[math.floor(h)], values[math.ceil(h)], h)


def _between(low: float, high: float, h: float) -> float:
    """The value at fractional rank h between the values at ranks floor(h) and ceil(h)."""
    return low + (h - math.floor(h)) * (high - low)


def walk_percentiles(value, conditions: list, count: int, ps=(0.5, 0.9)) -> dict[float, float | None]:
    """percentile_cont(p) by index walks: the two values around rank p * (count - 1), walked from the nearer end
    (ascending below the median, descending above it), so that the 90th percentile steps over a tenth of the rows."""
    out: dict[float, float | None] = {}
    if count <= 0:
        return dict.fromkeys(ps)
    base = select(value).where(value.is_not(None), *conditions)
    for p in ps:
        h = p * (count - 1)
        lo, hi = math.floor(h), math.ceil(h)
        if p <= 0.5:
            values = [float(v) for v in db.session.scalars(base.order_by(value).limit(2).offset(lo))]
        else:  # from the top: offset count-1-hi gives values[hi] then values[hi - 1]
            values = [float(v) for v in db.session.scalars(
                base.order_by(value.desc()).limit(2).offset(count - 1 - hi))][::-1]
            if hi == lo:
                values = values[-1:]
        out[p] = _between(values[0], values[-1], h) if values else None
    return out
