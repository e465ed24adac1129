"""Portable SQL building blocks for indicators: moments, durations and percentiles (SQLite and PostgreSQL).

Percentiles follow PostgreSQL's percentile_cont definition, computed the same way on both backends (SQLite has
no percentile aggregate), so the figures are identical whatever the database. `percentiles_of` picks between
two ways that give the same numbers: a small population is read whole through the period's index range and
sorted here; a large one is walked: for each wanted rank, the two values around it come from ORDER BY value
LIMIT 2 OFFSET rank, which an index led by the equality columns and the value answers from its entries alone.

`histogram_percentiles` gives the same numbers from a histogram kept in the rollup (counts per duration bucket,
`duration_bucket`): the counters say in which bucket each wanted rank falls, and how many values lie below it;
the walk then starts at that bucket's lower bound instead of the first value, and steps over part of one bucket
(at most 1/16 of the values' magnitude wide) rather than half of the population.
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


SUB_BUCKETS = 16  # buckets per power of two: a bucket spans at most 1/16 of its lower bound (6.25 %)


def duration_bucket(seconds: float | None) -> int | None:
    """The histogram bucket of a duration: width 1 s below 16 s (negative ones included), then 16 buckets per
    power of two. Exact for floats: `bucket_floor(b) <= seconds < bucket_floor(b + 1)` holds for every value, so
    that a walk from `bucket_floor(b)` in SQL starts exactly at the bucket's first value."""
    if seconds is None:
        return None
    if seconds < 2 * SUB_BUCKETS:
        bucket = math.floor(seconds)
    else:
        _, exponent = math.frexp(seconds)  # seconds = m * 2**exponent, 0.5 <= m < 1
        shift = exponent - 5  # width 2**shift: 16 <= seconds / width < 32
        bucket = SUB_BUCKETS * shift + math.floor(seconds / 2.0 ** shift)
    while bucket_floor(bucket) > seconds:  # guards against any rounding (divisions by powers of two are exact)
        bucket -= 1
    while bucket_floor(bucket + 1) <= seconds:
        bucket += 1
    return bucket


def bucket_floor(bucket: int) -> float:
    """The smallest duration of a bucket (see duration_bucket)."""
    if bucket < 2 * SUB_BUCKETS:
        return float(bucket)
    shift = bucket // SUB_BUCKETS - 1
    return float((bucket - SUB_BUCKETS * shift) * 2 ** shift)


def histogram_percentiles(value, conditions: list, histogram: dict[int, int], period: tuple,
                          ps=(0.5, 0.9)) -> dict[float, float | None]:
    """percentile_cont(p) of `value` over the rows matching `conditions` and `period`, as percentiles_of, when
    `histogram` ({bucket: rows}) counts exactly those rows by duration_bucket(value) (none with a NULL value)."""
    count = sum(histogram.values())
    if count <= FETCH_LIMIT:
        return percentiles_of(value, conditions, count, period, ps)
    column, start, end = period
    # The walk from the bucket is always the plan wanted, on both backends: the period's column is hidden from
    # the planner (as in percentiles_of on SQLite), or psycopg's prepared statements (from the 5th execution of
    # the same text) get a generic plan that reads the whole period through the completion index and sorts it.
    hidden = func.coalesce(column, column)
    where = [value.is_not(None), hidden >= start, hidden < end, *conditions]
    buckets = sorted((b, n) for b, n in histogram.items() if n)
    out: dict[float, float | None] = {}
    for p in ps:
        h = p * (count - 1)
        lo, hi = math.floor(h), math.ceil(h)
        below, start_bucket = 0, buckets[-1][0]
        for bucket, n in buckets:  # the bucket holding rank lo, and the number of values below it
            if below + n > lo:
                start_bucket = bucket
                break
            below += n
        values = [float(v) for v in db.session.scalars(
            select(value).where(value >= bucket_floor(start_bucket), *where).order_by(value)
            .limit(2 if hi > lo else 1).offset(lo - below))]
        out[p] = _between(values[0], values[-1], h) if values else None
    return out


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
