"""The bulk demo generator: consistent cases, tasks and audit chains that the indicators and the engine accept."""

from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import Action, AuditEvent, Case, TaskRow
from app.services.core import audit
from app.services.indicators import figures as indicators
from tests.support import flows


def test_bulk_demo(runner, api, deployed):
    result = runner.invoke(args=["demo", "--cases", "300", "--bulk"])
    assert result.exit_code == 0, result.output
    assert "300" in result.output
    assert db.session.scalar(select(func.count()).select_from(Case)) == 300
    assert db.session.scalar(select(func.count()).select_from(TaskRow).where(TaskRow.state == "ready")) > 0
    assert db.session.scalar(select(func.count()).select_from(Action)) > 0
    assert audit.verify() == []  # the generated audit events are properly hash-chained
    # the survey's 30-day boundary timer: an unanswered survey is cancelled by it, not left ready for ever
    # (COPY on PostgreSQL, Core inserts on SQLite: the same rows, the task list's derived keys filled)
    now = clock.now()
    surveys = db.session.execute(select(TaskRow.state, TaskRow.created_at, TaskRow.completed_at, TaskRow.case_id)
                                 .where(TaskRow.bpmn_id == "ut_survey")).all()
    assert {s.state for s in surveys} == {"ready", "completed", "cancelled"}
    assert all(s.created_at > now - timedelta(days=30) for s in surveys if s.state == "ready")
    timed_out = [s for s in surveys if s.state == "cancelled"]
    assert all(s.completed_at == s.created_at + timedelta(days=30) for s in timed_out)
    fired = set(db.session.scalars(select(AuditEvent.case_id).where(AuditEvent.type == "timer_fired")))
    assert fired == {s.case_id for s in timed_out}
    assert db.session.scalar(select(func.count()).select_from(TaskRow).where(TaskRow.due_key.is_(None))) == 0
    ended = set(db.session.scalars(select(Case.id).where(Case.completed.is_(True))))
    assert {s.case_id for s in timed_out} <= ended
    assert not ended & {s.case_id for s in surveys if s.state == "ready"}

    f = indicators.compute(indicators.parse_filters({"from": "2025-11-23", "to": "2026-11-23"}))
    assert f["volume"]["total"] == 300 and f["volume"]["granularity"] == "month"
    assert f["processing_time"]["overall"]["count"] == db.session.scalar(
        select(func.count()).select_from(Case).where(Case.closed_at.is_not(None)))
    assert 0 < f["deadline"]["answered"] and f["satisfaction"]["surveys_sent"] >= f["satisfaction"]["answered"] > 0
    assert f["disputes"]["count"] > 0 and f["disputes"]["blocked_amount"] > 0

    # a case started through the engine afterwards gets a fresh reference
    reference = flows.start(api, **flows.complaint_data())["reference"]
    assert db.session.scalar(select(func.count()).select_from(Case).where(Case.reference == reference)) == 1
