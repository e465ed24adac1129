"""Tests for app.services.core.calendar: calendar and French working-day deadlines."""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.services.core.calendar import MAX_DAYS, add_days, is_working_day, working_days_between

PARIS = ZoneInfo("Europe/Paris")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def paris(*args):
    return datetime(*args, tzinfo=PARIS)


@pytest.mark.parametrize("day, expected", [
    (date(2026, 11, 20), True),    # Friday
    (date(2026, 11, 21), False),   # Saturday
    (date(2026, 11, 22), False),   # Sunday
    (date(2026, 11, 11), False),   # Armistice, a Wednesday
    (date(2026, 12, 25), False),   # Christmas, a Friday
    (date(2027, 3, 29), False),    # Easter Monday 2027
    (date(2026, 5, 25), False),    # Whit Monday 2026
    (date(2026, 5, 14), False),    # Ascension 2026
    (date(2026, 7, 14), False),    # Bastille Day, a Tuesday
    (date(2026, 12, 24), True),    # Christmas Eve is a working day
    (date(2026, 12, 26), False),   # Saturday (and only an Alsace-Moselle holiday)
    (date(2026, 4, 3), True),      # Good Friday: not a national holiday
])
def test_is_working_day(day, expected):
    assert is_working_day(day) is expected


def test_is_working_day_refuses_datetimes():
    with pytest.raises(TypeError):
        is_working_day(utc(2026, 1, 5, 10))
    with pytest.raises(TypeError):
        is_working_day("2026-01-05")


def test_calendar_days_keep_time_of_day():
    start = utc(2026, 1, 10, 9, 30)
    assert add_days(start, 15) == utc(2026, 1, 25, 9, 30)
    assert add_days(start, 0) == start
    assert add_days(start, -10) == utc(2025, 12, 31, 9, 30)


def test_result_is_utc_even_for_other_zones():
    start = datetime(2026, 1, 10, 12, 0, tzinfo=timezone(timedelta(hours=5)))
    result = add_days(start, 1)
    assert result.tzinfo is UTC and result == utc(2026, 1, 11, 7, 0)


def test_calendar_days_keep_paris_wall_clock_across_dst():
    # 18:00 in Paris on Friday 27 March 2026 (UTC+1) -> 18:00 in Paris on Monday 30 March (UTC+2).
    assert add_days(paris(2026, 3, 27, 18), 3) == utc(2026, 3, 30, 16)
    assert add_days(paris(2026, 10, 23, 18), 7) == utc(2026, 10, 30, 17)


def test_working_days_cross_a_weekend():
    friday = utc(2026, 11, 20, 14)
    assert add_days(friday, 1, working=True) == utc(2026, 11, 23, 14)    # Monday
    assert add_days(friday, 5, working=True) == utc(2026, 11, 27, 14)    # next Friday
    assert add_days(friday, 0, working=True) == friday


def test_working_days_from_a_weekend_start_on_monday():
    saturday = utc(2026, 11, 21, 10)
    assert add_days(saturday, 1, working=True) == utc(2026, 11, 23, 10)
    assert add_days(saturday, 0, working=True) == saturday


def test_working_days_skip_armistice():
    # Tuesday 10 November 2026 + 1 working day: Wednesday 11 is a holiday -> Thursday 12.
    assert add_days(utc(2026, 11, 10, 8), 1, working=True) == utc(2026, 11, 12, 8)


def test_working_days_skip_christmas_and_weekend():
    # Thursday 24 December 2026 + 1: Friday 25 holiday, weekend -> Monday 28.
    assert add_days(utc(2026, 12, 24, 8), 1, working=True) == utc(2026, 12, 28, 8)


def test_working_days_skip_easter_monday_2027():
    # Friday 26 March 2027 + 1: weekend, Easter Monday 29 March -> Tuesday 30 March (after the DST change).
    assert add_days(paris(2027, 3, 26, 17), 1, working=True) == utc(2027, 3, 30, 15)


def test_working_days_span_new_year():
    # Wednesday 30 December 2026 + 2: Thursday 31, (1 January holiday), Friday... -> Monday 4 January 2027.
    assert add_days(utc(2026, 12, 30, 9), 2, working=True) == utc(2027, 1, 4, 9)


def test_working_days_use_the_paris_date_not_the_utc_date():
    # 23:30 UTC on Friday 20 November is already Saturday 21 in Paris: +1 working day is Monday 23 (Paris).
    start = utc(2026, 11, 20, 23, 30)
    assert add_days(start, 1, working=True) == paris(2026, 11, 23, 0, 30).astimezone(UTC)


def test_negative_working_days_go_back():
    # Thursday 12 November 2026 - 1 working day: Wednesday 11 is a holiday -> Tuesday 10.
    assert add_days(utc(2026, 11, 12, 8), -1, working=True) == utc(2026, 11, 10, 8)
    assert add_days(utc(2026, 11, 23, 8), -1, working=True) == utc(2026, 11, 20, 8)


def test_fifteen_calendar_versus_working_days():
    start = utc(2026, 12, 21, 9)
    assert add_days(start, 15) == utc(2027, 1, 5, 9)
    # 22, 23, 24, 28, 29, 30, 31 Dec; 4-8, 11-13 Jan (25 Dec and 1 Jan are holidays).
    assert add_days(start, 15, working=True) == utc(2027, 1, 13, 9)


def test_working_days_between():
    assert working_days_between(utc(2026, 11, 20, 9), utc(2026, 11, 23, 9)) == 1
    assert working_days_between(utc(2026, 11, 20, 9), utc(2026, 11, 20, 18)) == 0
    assert working_days_between(utc(2026, 11, 9, 9), utc(2026, 11, 13, 9)) == 3   # 10, 12, 13 (11 is off)
    assert working_days_between(utc(2026, 11, 23, 9), utc(2026, 11, 20, 9)) == -1
    # 261 weekdays in 2026 minus the 9 holidays that fall on a weekday.
    assert working_days_between(utc(2026, 1, 1), utc(2027, 1, 1)) == 252


@pytest.mark.parametrize("days", [0, 1, 2, 5, 10, 15, 30, 60, 250])
@pytest.mark.parametrize("start", [utc(2026, 12, 24, 8), utc(2027, 3, 26, 22, 30), utc(2026, 5, 8, 12)])
def test_add_and_count_agree(start, days):
    assert working_days_between(start, add_days(start, days, working=True)) == days


def test_naive_datetimes_are_refused():
    naive = datetime(2026, 1, 5, 10)
    with pytest.raises(ValueError):
        add_days(naive, 1)
    with pytest.raises(ValueError):
        add_days(naive, 1, working=True)
    with pytest.raises(ValueError):
        working_days_between(naive, utc(2026, 1, 6))
    with pytest.raises(ValueError):
        working_days_between(utc(2026, 1, 6), naive)


@pytest.mark.parametrize("days", [1.5, "3", True, None])
def test_days_must_be_an_integer(days):
    with pytest.raises(TypeError):
        add_days(utc(2026, 1, 5), days)


def test_dates_are_refused_where_datetimes_are_expected():
    with pytest.raises(TypeError):
        add_days(date(2026, 1, 5), 1)


def test_absurd_spans_are_refused():
    with pytest.raises(ValueError):
        add_days(utc(2026, 1, 5), MAX_DAYS + 1, working=True)
    with pytest.raises(ValueError):
        working_days_between(utc(2026, 1, 5), utc(2226, 1, 5))
