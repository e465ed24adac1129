"""Indicator days are Europe/Paris calendar days: around midnight UTC/Paris and across both clock changes.

The rollup kept by the session hooks, its rebuild, the direct SQL over the case and task tables, the dashboard's
period filter and the migration that moved the stored buckets all agree on the Paris day of a moment.
"""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import Case, CaseRollup, ProcessDefinition
from app.services.core.calendar import day_start, paris_day
from app.services.indicators import figures as indicators
from tests.support.auth import login
from tests.support.databases import empty_database
from tests.support.indicator_data import Builder
from tests.support.setup import assert_rollup_consistent


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# (received at, Paris day). 2026: clocks go forward on Sunday 29 March at 02:00, back on Sunday 25 October at 03:00.
MOMENTS = [
    (utc(2026, 3, 28, 22, 59), date(2026, 3, 28)),  # 23:59 CET
    (utc(2026, 3, 28, 23, 30), date(2026, 3, 29)),  # 00:30 CET on the day of the change
    (utc(2026, 3, 29, 21, 59), date(2026, 3, 29)),  # 23:59 CEST: that day had 23 hours
    (utc(2026, 3, 29, 22, 0), date(2026, 3, 30)),
    (utc(2026, 3, 31, 21, 30), date(2026, 3, 31)),  # 23:30 CEST
    (utc(2026, 3, 31, 23, 30), date(2026, 4, 1)),  # 01:30 CEST on 1 April: April's month row
    (utc(2026, 10, 24, 22, 30), date(2026, 10, 25)),  # 00:30 CEST on the day clocks go back
    (utc(2026, 10, 25, 22, 30), date(2026, 10, 25)),  # 23:30 CET: that day had 25 hours
    (utc(2026, 10, 25, 23, 0), date(2026, 10, 26)),
    (utc(2026, 12, 31, 23, 30), date(2027, 1, 1)),  # New Year in Paris, still 2026 in UTC
]


def test_paris_day_and_day_start():
    for moment, day in MOMENTS:
        assert paris_day(moment) == day
        assert day_start(day) <= moment < day_start(day + timedelta(days=1))
    assert day_start(date(2026, 3, 29)) == utc(2026, 3, 28, 23)
    assert day_start(date(2026, 3, 30)) - day_start(date(2026, 3, 29)) == timedelta(hours=23)
    assert day_start(date(2026, 10, 26)) - day_start(date(2026, 10, 25)) == timedelta(hours=25)


def _received_rows(period: str) -> dict[date, int]:
    out: dict[date, int] = {}
    for day, n in db.session.execute(select(CaseRollup.day, func.sum(CaseRollup.cases)).where(
            CaseRollup.basis == "received", CaseRollup.period == period).group_by(CaseRollup.day)):
        day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        if n:
            out[day] = int(n)
    return out


def _sql_count(start: date, end: date) -> int:
    """Cases received in the Paris days start..end, straight from the case table."""
    return db.session.scalar(select(func.count()).select_from(Case).where(
        Case.received_at >= day_start(start), Case.received_at < day_start(end + timedelta(days=1))))


def _figures(start: str, end: str, **args) -> dict:
    return indicators.compute(indicators.parse_filters({"from": start, "to": end, **args}))


@pytest.fixture
def moments(deployed):
    b = Builder()
    for i, (received, _) in enumerate(MOMENTS):
        closed = received + timedelta(days=2)
        b.case(received, channel="web", kind="complaint", category="billing" if i % 2 else "delivery",
               root_cause="Remise oubliée", status="closed", closed_at=closed, due_at=received + timedelta(days=15),
               tasks=[("ut_qualify", received, received + timedelta(minutes=20))],
               messages=[("response", received + timedelta(days=1))])
    db.session.commit()


def test_hooks_and_rebuild_bucket_by_paris_day(moments):
    expected: dict[date, int] = {}
    months: dict[date, int] = {}
    for _, day in MOMENTS:
        expected[day] = expected.get(day, 0) + 1
        months[day.replace(day=1)] = months.get(day.replace(day=1), 0) + 1
    assert _received_rows("day") == expected
    assert _received_rows("month") == months
    assert months[date(2026, 4, 1)] == 1 and months[date(2027, 1, 1)] == 1 and months[date(2026, 3, 1)] == 5
    # The step completed 20 minutes after receipt at 23:30 UTC on 31 March is an April step.
    steps = dict(db.session.execute(select(CaseRollup.day, CaseRollup.cases).where(
        CaseRollup.basis == "step", CaseRollup.period == "month")).all())
    assert {(d if isinstance(d, date) else date.fromisoformat(str(d)[:10])): n for d, n in steps.items()} == {
        date(2026, 3, 1): 5, date(2026, 4, 1): 1, date(2026, 10, 1): 3, date(2027, 1, 1): 1}
    assert_rollup_consistent()  # the rebuild buckets the same way


@pytest.mark.parametrize("start,end", [
    ("2026-03-01", "2026-03-31"), ("2026-04-01", "2026-04-30"), ("2026-03-29", "2026-03-29"),
    ("2026-03-30", "2026-04-01"), ("2026-10-25", "2026-10-25"), ("2026-10-26", "2026-12-31"),
    ("2026-01-01", "2026-12-31"), ("2027-01-01", "2027-01-31")])
def test_periods_are_paris_days_in_figures_and_sql(moments, start, end):
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    in_period = sum(1 for _, day in MOMENTS if first <= day <= last)
    f = _figures(start, end)
    assert f["volume"]["total"] == in_period == _sql_count(first, last)
    # The same population through the SQL fallbacks: percentiles over closed cases, filtered steps from tasks.
    closed = sum(1 for m, _ in MOMENTS if first <= paris_day(m + timedelta(days=2)) <= last)
    assert f["processing_time"]["overall"]["count"] == closed
    if closed:
        assert f["processing_time"]["overall"]["median_days"] == 2.0
    unfiltered = {s["bpmn_id"]: s["count"] for s in f["processing_time"]["steps"]}
    by_category = [_figures(start, end, category=c)["processing_time"]["steps"] for c in ("billing", "delivery")]
    filtered = sum(s["count"] for steps in by_category for s in steps if s["bpmn_id"] == "ut_qualify")
    steps = sum(1 for m, _ in MOMENTS if first <= paris_day(m + timedelta(minutes=20)) <= last)
    assert unfiltered.get("ut_qualify", 0) == filtered == steps
    answered = sum(1 for m, _ in MOMENTS if first <= paris_day(m + timedelta(days=1)) <= last)
    assert f["deadline"]["answered"] == answered


def test_march_and_april_split_at_paris_midnight(moments):
    assert _figures("2026-03-01", "2026-03-31")["volume"]["total"] == 5
    april = _figures("2026-04-01", "2026-04-30")["volume"]
    assert april["total"] == 1 and {s["bucket"]: s["count"] for s in april["series"]}["2026-04-01"] == 1


def test_default_period_ends_on_the_paris_day(deployed):
    from app import clock

    clock.set_now(utc(2026, 11, 23, 23, 30))  # already 24 November in Paris
    f = indicators.parse_filters({})
    assert (f.start.isoformat(), f.end.isoformat()) == ("2026-10-26", "2026-11-24")


def _tile(html: str) -> int:
    match = re.search(r'Dossiers reçus</span><span class="value">(\d+)<', html)
    assert match, "no received tile"
    return int(match.group(1))


def test_dashboard_period_filter_uses_paris_days(api, moments):
    login(api.client, "qualite")
    html = api.client.get("/reports/?from=2026-04-01&to=2026-04-01").get_data(as_text=True)
    assert _tile(html) == 1 and "jours UTC" not in html
    assert "Période du 01/04/2026 au 01/04/2026" in html
    assert _tile(api.client.get("/reports/?from=2026-03-31&to=2026-03-31").get_data(as_text=True)) == 1
    assert _tile(api.client.get("/reports/?from=2026-03-29&to=2026-03-29").get_data(as_text=True)) == 2
    assert _tile(api.client.get("/reports/?from=2026-10-25&to=2026-10-25").get_data(as_text=True)) == 2


def test_case_search_received_dates_are_paris_days(moments):
    from app.services.cases.search import CaseFilters, search

    _, total = search(CaseFilters(received_from=date(2026, 4, 1), received_to=date(2026, 4, 1)))
    assert total == 1
    _, total = search(CaseFilters(received_from=date(2026, 3, 29), received_to=date(2026, 3, 29)))
    assert total == 2


def test_migration_rebuilds_buckets_in_paris_days_and_back(backend, tmp_path):
    """h16c_paris_days recomputes the stored rows in Paris days; its downgrade puts back the UTC days."""
    with empty_database(backend, tmp_path, "paris") as url:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
        with app.app_context():
            upgrade()
            definition = ProcessDefinition(key="reclamation", name="Réclamation", version=1, status="deployed",
                                           xml="<x/>", sha256="0" * 64, created_by="test",
                                           created_at=utc(2026, 3, 1), deployed_at=utc(2026, 3, 1))
            db.session.add(definition)
            db.session.flush()
            for i, (received, _) in enumerate(MOMENTS[4:6]):  # 31 March 21:30 and 23:30 UTC
                db.session.add(Case(reference=f"REC-2026-{i:06d}", process_key="reclamation",
                                    definition_id=definition.id, status="open", received_at=received,
                                    created_at=received, updated_at=received, created_by="test",
                                    tracking_token=f"tok{i}", data={}, channel="web"))
            db.session.commit()
            assert _received_rows("day") == {date(2026, 3, 31): 1, date(2026, 4, 1): 1}
            db.session.remove()
            downgrade(revision="h18_audit")
            assert _received_rows("day") == {date(2026, 3, 31): 2}
            assert _received_rows("month") == {date(2026, 3, 1): 2}
            db.session.remove()
            upgrade()
            assert _received_rows("day") == {date(2026, 3, 31): 1, date(2026, 4, 1): 1}
            assert _received_rows("month") == {date(2026, 3, 1): 1, date(2026, 4, 1): 1}
            db.session.remove()
            db.engine.dispose()
