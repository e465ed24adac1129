"""« À risque » counted in SQL (forecast.risky_case_ids: task.slack_seconds read from ix_task_ready_slack, then
the rule on each candidate's case) decides exactly as the per-case estimate (forecast.at_risk_estimated) at the
rule's edges — a microsecond either side of the median, a deadline at this very instant, each fallback level, an
answered or closed case, no deadline, two ready tasks —, for the task list's filter and the dashboard alike; the
slack follows every write of a task row (ORM, the step's Core statements, a bulk insert); the migration fills it
for the rows already there, and its downgrade drops it. Both backends."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import column, func, select, table

from app import clock, create_app
from app.cli.demo_bulk import insert_rows
from app.extensions import db
from app.models import Case, TaskRow
from app.models.types import seconds_between
from app.services.tasks import forecast, task_list
from tests.support import flows
from tests.support.databases import empty_database, seed_case
from tests.support.indicator_data import Builder, closed_history
from tests.support.pages import user

US = timedelta(microseconds=1)


def _history(b: Builder) -> None:
    """Analysis entered this long before closure: billing 4–8 days (median 6), delivery 1–5 days (median 3), so
    complaints of any other category fall back to the ten of them (median 4.5 days), and so do other kinds."""
    closed_history(b)
    closed_history(b, category="delivery", days=(1, 2, 3, 4, 5))


def _open(b: Builder, slack: timedelta | None, entered: datetime, status="in_progress", steps=("ut_analyse",),
          **columns) -> Case:
    due = entered + slack if slack is not None else None
    columns.setdefault("kind", "complaint")
    return b.case(entered - timedelta(days=1), status=status, due_at=due,
                  tasks=[(step, entered, None) for step in steps], **columns)


def _sql_sets(now: datetime) -> tuple[set, set, dict]:
    risky = set(db.session.scalars(forecast.risky_case_ids(now)))
    listed = set(db.session.scalars(select(TaskRow.case_id).where(TaskRow.state == "ready",
                                                                  forecast.task_at_risk(now))))
    return risky, listed, forecast.at_risk([], now)


def test_sql_rule_equals_the_estimate_at_its_edges(deployed):
    b = Builder()
    _history(b)
    now = clock.now()
    entered = now - timedelta(days=2)
    six, three, fallback = timedelta(days=6), timedelta(days=3), timedelta(days=4, hours=12)
    made = {
        "billing, a microsecond short": _open(b, six - US, entered, category="billing"),
        "billing, exactly the median": _open(b, six, entered, category="billing"),
        "billing, a microsecond more": _open(b, six + US, entered, category="billing"),
        "delivery, a microsecond short": _open(b, three - US, entered, category="delivery"),
        "delivery, exactly the median": _open(b, three, entered, category="delivery"),
        "product (kind level), short": _open(b, fallback - US, entered, category="product"),
        "product (kind level), exact": _open(b, fallback, entered, category="product"),
        "request (process level), short": _open(b, fallback - US, entered, kind="request"),
        "request (process level), exact": _open(b, fallback, entered, kind="request"),
        "due this very instant": _open(b, timedelta(days=2), entered, category="billing"),
        "due a microsecond ago": _open(b, timedelta(days=2) - US, entered, category="billing"),
        "answered": _open(b, six - US, entered, status="answered", category="billing"),
        # closed before its row was entered: no sample for the medians
        "closed, a row left ready": _open(b, six - US, entered, status="closed", category="billing",
                                          closed_at=entered - timedelta(hours=1)),
        "no deadline": _open(b, None, entered, category="billing"),
        "no history for the step": _open(b, timedelta(hours=1) + timedelta(days=2), entered, category="billing",
                                         steps=("ut_decide",)),
        "two ready tasks, one at risk": _open(b, six - US, entered, category="billing",
                                              steps=("ut_decide", "ut_analyse")),
        "litige, no history": _open(b, timedelta(hours=49), entered, process="litige", kind=None),
    }
    db.session.commit()
    forecast._CACHE.clear()
    estimated = forecast.at_risk_estimated([], now)
    names = {c.id: name for name, c in made.items()}
    assert {names[f.case_id] for f in estimated} == {
        "billing, a microsecond short", "delivery, a microsecond short", "product (kind level), short",
        "request (process level), short", "due this very instant", "two ready tasks, one at risk"}
    risky, listed, dashboard = _sql_sets(now)
    assert risky == listed == {f.case_id for f in estimated}
    assert dashboard["count"] == len(estimated) and dashboard["cases"] == [f.as_json() for f in estimated]
    # the task list's filter shows every ready row of those cases, in each tab
    page = task_list.task_page(user("responsable"), "all", task_list.TaskFilters(at_risk=True))
    assert sorted(r.case_id for r in page.rows) == sorted(
        [f.case_id for f in estimated] + [made["two ready tasks, one at risk"].id])
    assert page.counts["all"] == len(estimated) + 1

    # a microsecond later the case due "this very instant" is overdue, no longer at risk
    later = now + US
    forecast._CACHE.clear()
    expected = {f.case_id for f in forecast.at_risk_estimated([], later)}
    assert made["due this very instant"].id not in expected
    risky, listed, dashboard = _sql_sets(later)
    assert risky == listed == expected and dashboard["count"] == len(expected)


def test_nobody_at_risk_without_history(deployed):
    b = Builder()
    _open(b, timedelta(hours=1), clock.now() - timedelta(days=2), category="billing")
    db.session.commit()
    forecast._CACHE.clear()
    assert forecast.risky_case_ids(clock.now()) is None
    assert forecast.at_risk([])["count"] == 0 and forecast.at_risk_estimated([]) == []
    assert db.session.scalar(select(func.count()).select_from(TaskRow).where(forecast.task_at_risk())) == 0


def _slack_is_kept() -> int:
    rows = db.session.execute(select(TaskRow.created_at, TaskRow.due_at, TaskRow.slack_seconds)).all()
    assert rows and all(r.slack_seconds == seconds_between(r.created_at, r.due_at) for r in rows), rows
    return len(rows)


def test_slack_follows_every_write_of_a_task_row(api, deployed):
    # the step's Core statements (cases.complete_task writes new rows by prebuilt INSERTs, changes by UPDATEs)
    ref = flows.start(api, **flows.complaint_data())["reference"]
    flows.advance_days(1)
    flows.do(api, ref, "ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing", "severity": "high",
                                                      "department": "billing"})
    assert _slack_is_kept() >= 2
    # the ORM: a new deadline, a new entry into the step
    row = db.session.scalars(select(TaskRow).where(TaskRow.state == "ready")).first()
    row.due_at = row.due_at + timedelta(days=3, microseconds=7)
    db.session.commit()
    row.created_at = row.created_at - timedelta(hours=5)
    db.session.commit()
    row.due_at = None
    db.session.commit()
    assert row.slack_seconds is None
    # a bulk insert past the ORM (the volume demo's COPY on PostgreSQL), through the column's default
    case = db.session.scalars(select(Case)).first()
    insert_rows(TaskRow.__table__, [{
        "id": str(uuid.uuid4()), "case_id": case.id, "case_reference": case.reference, "process_key": "reclamation",
        "bpmn_id": "ut_analyse", "name": "Analyser", "lane": "service", "state": "ready",
        "created_at": clock.now(), "due_at": clock.now() + timedelta(days=2, seconds=1.5)}])
    db.session.commit()
    assert _slack_is_kept() >= 3


def test_migration_fills_the_slack_and_its_downgrade_drops_it(backend, tmp_path):
    with empty_database(backend, tmp_path, "slack") as url:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
        made = datetime(2026, 4, 2, 8, 0, 0, 123457, tzinfo=UTC)
        with app.app_context():
            upgrade(revision="h21d_open_indexes")
            model = db.metadata.tables["task"]  # the table as the previous revision has it: no slack column
            task = table("task", *[column(c.name, c.type) for c in model.columns if c.name != "slack_seconds"])
            case = seed_case(made)
            due = made + timedelta(days=15, seconds=3, microseconds=999_999)
            for n, (state, deadline) in enumerate([("ready", due), ("completed", due), ("ready", None)]):
                values = {"id": f"t{n}", "case_id": case.id, "case_reference": case.reference,
                          "process_key": "reclamation", "bpmn_id": "ut_analyse", "name": "Analyser",
                          "state": state, "priority": 0, "created_at": made, "due_at": deadline,
                          "due_key": deadline or datetime(9999, 12, 31, tzinfo=UTC)}
                db.session.execute(task.insert().values(values))
            db.session.commit()
            db.session.remove()
            upgrade()
            slack = dict(db.session.execute(select(TaskRow.id, TaskRow.slack_seconds)).all())
            assert slack == {"t0": seconds_between(made, due), "t1": seconds_between(made, due), "t2": None}
            assert slack["t0"] == 15 * 86400 + 3.999999
            db.session.remove()
            downgrade(revision="h21d_open_indexes")
            names = {c["name"] for c in db.inspect(db.engine).get_columns("task")}
            assert "slack_seconds" not in names and "due_key" in names
            db.session.remove()
            upgrade()
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def generated(ctx, deployed):
    from app.cli.demo_bulk import generate

    clock.set_now(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    try:
        generate(1500)
        db.session.commit()
        forecast._CACHE.clear()
        yield
    finally:
        clock.set_now(None)


def test_task_list_filter_equals_the_estimate_on_generated_cases(generated):
    """Every process and step of the bulk generator, at instants 20 days before to 3 days after its clock."""
    seen = set()
    for hours in range(-24 * 20, 24 * 3, 13):  # earlier instants too: the medians and the candidates move
        now = clock.now() + timedelta(hours=hours)
        expected = {f.case_id for f in forecast.at_risk_estimated([], now)}
        risky, listed, dashboard = _sql_sets(now)
        assert risky == listed == expected and dashboard["count"] == len(expected)
        seen |= expected
    assert len(seen) >= 4, seen  # the generator puts few of its 1,500 cases at risk
