"""The dashboard's fast ways give the figures of the slow ones: step percentiles from the rollup's duration
histograms (sql_stats.histogram_percentiles) equal the walk of the whole index and a full read-and-sort, and the
breach forecast counted in SQL (forecast.at_risk) equals every open case estimated one by one, on generated
cases, with every filter and periods of 1, 30 and 365 days (Paris days, both clock changes); the migration that
adds the histograms recomputes the rollup and its downgrade gives back the rows the previous code kept."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

from app import clock, create_app
from app.cli.demo_bulk import generate
from app.extensions import db
from app.models import Case, CaseRollup, TaskRow
from app.services.core import sql_stats
from app.services.core.sql_stats import bucket_floor, duration_bucket
from app.services.indicators import figures as indicators
from app.services.indicators import labels
from app.services.tasks import forecast
from tests.support.databases import empty_database, seed_case
from tests.support.setup import assert_rollup_consistent

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_every_duration_lies_in_its_bucket():
    rng = random.Random(3)
    values = [0.0, -0.5, -86400.25, 15.999, 16.0, 31.5, 32.0, 33.0, 63.99, 64.0, 2.0 ** 40, 1e-9]
    values += [rng.choice([rng.uniform(-1e3, 1e3), rng.expovariate(1 / 86400), rng.uniform(0, 3e8),
                           float(rng.randint(0, 10 ** 8))]) for _ in range(20_000)]
    for value in values:
        bucket = duration_bucket(value)
        assert bucket_floor(bucket) <= value < bucket_floor(bucket + 1), value
    for bucket in range(-40, 600):  # buckets follow each other and are at most 1/16 of their bound wide
        assert bucket_floor(bucket) < bucket_floor(bucket + 1)
        assert duration_bucket(bucket_floor(bucket)) == bucket
        if bucket >= 32:
            assert bucket_floor(bucket + 1) - bucket_floor(bucket) <= bucket_floor(bucket) / 16
    assert duration_bucket(None) is None


@pytest.fixture
def generated(ctx, deployed):
    clock.set_now(NOW)
    try:
        generate(1500)
        db.session.commit()
        yield
    finally:
        clock.set_now(None)


def _filter_sets() -> list[dict]:
    """No filter, each process, and for each filter column its most frequent value."""
    out = [{}, {"process": "reclamation"}, {"process": "litige"}]
    for key in indicators.FILTER_KEYS[1:]:
        column = getattr(Case, key)
        value = db.session.scalar(select(column).where(column.is_not(None)).group_by(column)
                                  .order_by(func.count().desc(), column).limit(1))
        out.append({key: value})
    return out


PERIODS = [("2026-11-23", "2026-11-23"), ("2026-10-25", "2026-11-23"), ("2025-11-24", "2026-11-23"),
           ("2026-03-29", "2026-03-29"), ("2026-10-25", "2026-10-25"), ("2026-03-15", "2026-04-14")]


def test_fast_figures_equal_the_slow_ones(generated, monkeypatch):
    assert_rollup_consistent()  # the histograms the bulk data got are those the hooks keep
    cat = labels.catalogue()
    checked_histograms = risky_seen = 0
    for extra in _filter_sets():
        for start, end in PERIODS:
            filters = indicators.parse_filters({"from": start, "to": end, **extra})
            figures = indicators.compute(filters)
            # every step walked, then every step read whole and sorted here (percentile_cont by definition)
            assert figures["processing_time"] == indicators.processing_time(filters, cat, histograms=False)
            monkeypatch.setattr(sql_stats, "FETCH_LIMIT", 10 ** 9)
            assert figures["processing_time"] == indicators.processing_time(filters, cat, histograms=False)
            # below the fetch limit a step is read whole either way: lower it so that the histograms are used
            monkeypatch.setattr(sql_stats, "FETCH_LIMIT", 5)
            small = indicators.processing_time(filters, cat)
            assert small == figures["processing_time"]
            assert small == indicators.processing_time(filters, cat, histograms=False)
            monkeypatch.undo()
            if not set(extra) - {"process"}:
                checked_histograms += sum(s["count"] > 5 for s in small["steps"]) + (small["overall"]["count"] > 5)

            estimated = forecast.at_risk_estimated(indicators.case_conditions(filters), clock.now())
            assert figures["forecast"]["count"] == len(estimated)
            assert figures["forecast"]["cases"] == [f.as_json() for f in estimated[:50]]
            risky_seen += len(estimated)
    assert checked_histograms > 20 and risky_seen > 0  # the comparisons met the histograms and cases at risk


def test_histogram_rows_follow_completions_and_their_sum_is_the_step_count(generated):
    rows = db.session.execute(select(CaseRollup.process_key, CaseRollup.bpmn_id, func.sum(CaseRollup.cases))
                              .where(CaseRollup.basis == "step", CaseRollup.period == "month")
                              .group_by(CaseRollup.process_key, CaseRollup.bpmn_id)).all()
    completed = dict(((p, b), n) for p, b, n in db.session.execute(
        select(TaskRow.process_key, TaskRow.bpmn_id, func.count()).where(TaskRow.state == "completed")
        .group_by(TaskRow.process_key, TaskRow.bpmn_id)))
    assert {(p, b): int(n) for p, b, n in rows} == completed
    assert db.session.scalar(select(func.count()).select_from(CaseRollup).where(
        CaseRollup.basis == "step", CaseRollup.duration_bucket.is_(None))) == 0
    assert db.session.scalar(select(func.count()).select_from(CaseRollup).where(
        CaseRollup.basis.not_in(("step", "closing")), CaseRollup.duration_bucket.is_not(None))) == 0
    closing = db.session.scalar(select(func.sum(CaseRollup.cases)).where(CaseRollup.basis == "closing",
                                                                          CaseRollup.period == "month"))
    assert closing == db.session.scalar(select(func.count()).select_from(Case).where(
        Case.processing_seconds.is_not(None)))


def _step_rows() -> dict[tuple, int]:
    return {(r.period, r.day if isinstance(r.day, date) else date.fromisoformat(str(r.day)[:10]), r.bpmn_id,
             r.duration_bucket): r.cases
            for r in db.session.execute(select(CaseRollup.period, CaseRollup.day, CaseRollup.bpmn_id,
                                               CaseRollup.duration_bucket, CaseRollup.cases)
                                        .where(CaseRollup.basis == "step"))}


def test_migration_adds_histograms_and_its_downgrade_merges_them(backend, tmp_path):
    with empty_database(backend, tmp_path, "histograms") as url:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
        at = datetime(2026, 4, 2, 8, tzinfo=UTC)
        with app.app_context():
            upgrade()
            case = seed_case(at)
            for i, hours in enumerate((1, 3650 / 3600, 30)):  # two in one bucket, one in another
                db.session.add(TaskRow(id=f"t{i}", case_id=case.id, case_reference=case.reference,
                                       process_key="reclamation", bpmn_id="ut_analyse", name="Analyse",
                                       state="completed", created_at=at, completed_at=at + timedelta(hours=hours)))
            db.session.commit()
            one, two = duration_bucket(3600.0), duration_bucket(30 * 3600.0)
            assert duration_bucket(3650.0) == one
            expected = {(period, day, "ut_analyse", bucket): n for period, day in (
                ("day", date(2026, 4, 2)), ("day", date(2026, 4, 3)), ("month", date(2026, 4, 1)))
                for bucket, n in ((one, 2), (two, 1)) if (day == date(2026, 4, 3)) == (bucket == two)
                or period == "month"}
            assert _step_rows() == expected
            db.session.remove()
            downgrade(revision="h21b_task_step")
            assert {(r.period, r.day, r.cases) for r in db.session.execute(
                db.text("SELECT period, day, cases FROM case_rollup WHERE basis = 'step'"))} == {
                ("day", _db_day(backend, date(2026, 4, 2)), 2), ("day", _db_day(backend, date(2026, 4, 3)), 1),
                ("month", _db_day(backend, date(2026, 4, 1)), 3)}
            db.session.remove()
            upgrade()
            assert _step_rows() == expected
            db.session.remove()
            db.engine.dispose()


def _db_day(backend: str, day: date):
    """A date as a raw SELECT returns it: a date on PostgreSQL, text on SQLite."""
    return day if backend == "postgresql" else day.isoformat()
