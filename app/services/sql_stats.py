"""Portable SQL building blocks for indicators: day buckets, durations and percentiles (SQLite and PostgreSQL).

Percentiles: both backends compute them with window functions (ROW_NUMBER and COUNT over the group, ordered
by the value), and only the one or two rows around each wanted rank leave the database; the interpolation
between them (PostgreSQL's percentile_cont definition) is done here. One method for both backends keeps the
figures identical whatever the database, and SQLite has no percentile aggregate.
"""

import math
from datetime import datetime

from sqlalchemy import func, literal, or_, select

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


def day_of(column):
    """SQL expression: the UTC day of a datetime column as 'YYYY-MM-DD'."""
    if dialect() == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def percentiles(base, keys: list[str], value: str = "v", ps=(0.5, 0.9)) -> dict[tuple, dict]:
    """Per group of `keys`, the count and percentile_cont(p) of column `value` of the select `base`.

    Returns {key tuple: {"count": n, 0.5: x, 0.9: y}}; rows whose value is NULL are ignored.
    """
    sub = base.subquery()
    parts = [sub.c[k] for k in keys]
    v = sub.c[value]
    ranked = select(
        *parts, v.label("v"),
        func.row_number().over(partition_by=parts or None, order_by=v).label("rn"),
        func.count().over(partition_by=parts or None).label("n"),
    ).where(v.is_not(None)).subquery()
    near = [func.abs(ranked.c.rn - 1 - p * (ranked.c.n - 1)) < 1 for p in ps]
    rows = db.session.execute(
        select(*[ranked.c[k] for k in keys], ranked.c.v, ranked.c.rn, ranked.c.n).where(or_(*near)))
    groups: dict[tuple, dict] = {}
    for row in rows:
        key = tuple(row[:len(keys)])
        entry = groups.setdefault(key, {"count": int(row.n), "values": {}})
        entry["values"][int(row.rn) - 1] = float(row.v)
    result = {}
    for key, entry in groups.items():
        n, values = entry["count"], entry["values"]
        out = {"count": n}
        for p in ps:
            h = p * (n - 1)
            lo, hi = math.floor(h), math.ceil(h)
            low = values.get(lo, values.get(hi))
            high = values.get(hi, low)
            out[p] = None if low is None else low + (h - lo) * (high - low)
        result[key] = out
    return result
