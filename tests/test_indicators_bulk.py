"""The bulk demo generator: consistent cases, tasks and audit chains that the indicators and the engine accept."""

from sqlalchemy import func, select

from app.extensions import db
from app.models import Action, Case, TaskRow
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

    f = indicators.compute(indicators.parse_filters({"from": "2025-11-23", "to": "2026-11-23"}))
    assert f["volume"]["total"] == 300 and f["volume"]["granularity"] == "month"
    assert f["processing_time"]["overall"]["count"] == db.session.scalar(
        select(func.count()).select_from(Case).where(Case.closed_at.is_not(None)))
    assert 0 < f["deadline"]["answered"] and f["satisfaction"]["surveys_sent"] >= f["satisfaction"]["answered"] > 0
    assert f["disputes"]["count"] > 0 and f["disputes"]["blocked_amount"] > 0

    # a case started through the engine afterwards gets a fresh reference
    reference = flows.start(api, **flows.complaint_data())["reference"]
    assert db.session.scalar(select(func.count()).select_from(Case).where(Case.reference == reference)) == 1
