"""Deadline arithmetic in calendar days or French working days (Monday-Friday minus public holidays)."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta

import holidays

from app.vocabulary import PARIS

# Deadlines longer than this are certainly a typo; refusing them also bounds the day-by-day loops.
MAX_DAYS = 36_600


@functools.lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    # National holidays only: Alsace-Moselle's extra days (Good Friday, 26 December) are a subdivision.
    return frozenset(holidays.France(years=year))


def is_working_day(d: date) -> bool:
    """Tell whether a calendar date is a French working day (Monday-Friday, not a public holiday)."""
    if isinstance(d, datetime) or not isinstance(d, date):
        # A datetime has no calendar date until a time zone is chosen: the caller must pick it.
        raise TypeError("is_working_day expects a date, not a datetime")
    return d.weekday() < 5 and d not in _holidays(d.year)


def _require_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


def _require_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError("days must be an integer")
    if abs(days) > MAX_DAYS:
        raise ValueError(f"days must be between -{MAX_DAYS} and {MAX_DAYS}")


def _shift_local(local: datetime, day: date) -> datetime:
    """Move a Paris wall-clock datetime to another calendar day, same wall-clock time, returned in UTC."""
    # Wall-clock arithmetic: "in 3 days at 18:00" stays 18:00 in Paris across a DST change.
    # A time that does not exist that day (spring-forward gap) is resolved by zoneinfo's fold rules.
    moved = datetime.combine(day, local.time(), tzinfo=PARIS).replace(fold=local.fold)
    return moved.astimezone(UTC)


def add_days(start: datetime, days: int, *, working: bool = False) -> datetime:
    """Add calendar or working days to an aware datetime, keeping the Paris time of day; return UTC."""
    _require_aware(start, "start")
    _require_days(days)
    local = start.astimezone(PARIS)
    day = local.date()
    if not working:
        return _shift_local(local, day + timedelta(days=days))
    step = timedelta(days=1 if days > 0 else -1)
    remaining = abs(days)
    # Day-by-day walk: holidays are sparse and deadlines short, so this is simple and fast enough.
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return _shift_local(local, day)


def working_days_between(start: datetime, end: datetime) -> int:
    """Count working days after start's Paris date up to and including end's; negative if end is earlier."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    first, last = start.astimezone(PARIS).date(), end.astimezone(PARIS).date()
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    if (last - first).days > MAX_DAYS:
        raise ValueError(f"the two dates are more than {MAX_DAYS} days apart")
    count = sum(1 for offset in range(1, (last - first).days + 1) if is_working_day(first + timedelta(offset)))
    return sign * count


# --- Paris calendar days of stored UTC moments (indicators, period filters) --------------------------------

def paris_day(moment: datetime, zone=PARIS) -> date:
    """The calendar day of an aware moment in Paris (23:30 UTC on 31 March is 1 April there)."""
    _require_aware(moment, "moment")
    return moment.astimezone(zone).date()


def day_start(day: date, zone=PARIS) -> datetime:
    """The UTC moment a Paris calendar day begins (23:00 UTC the day before in winter, 22:00 in summer).

    A period of days [first, last] is [day_start(first), day_start(last + 1 day)): 23 hours on the day the
    clocks go forward, 25 on the day they go back.
    """
    return datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
