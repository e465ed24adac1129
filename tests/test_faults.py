"""Faults: the database connection killed in the middle of a request loses nothing acknowledged, writes nothing
half, answers 503, and the next request works (the pool's checkout BEGIN replaces a dead connection); the
outbox keeps messages through an outage."""

import os

import pytest
from sqlalchemy import func, select, text

from app.engine import CaseWorkflow
from app.extensions import db
from app.models import AuditEvent, Case, TaskRow
from tests.support import flows

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL only")]
QUALIFY = {"admissible": "yes", "category": "billing", "severity": "high"}


@pytest.fixture
def backend():
    return "postgresql"


def snapshot(reference: str) -> tuple:
    db.session.expire_all()
    case = db.session.scalars(select(Case).where(Case.reference == reference)).one()
    events = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.case_id == case.id))
    tasks = sorted((t.bpmn_id, t.state) for t in db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id)))
    return case.lock_version, case.status, events, tasks


def test_connection_killed_mid_request_writes_nothing_and_the_next_request_works(app, api, deployed,
                                                                                  admin_engine, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production
    created = flows.start(api, **flows.complaint_data())  # acknowledged: 201
    reference = created["reference"]
    task = flows.ready(api, reference, "ut_qualify")
    before = snapshot(reference)
    original = CaseWorkflow.complete
    killed = []

    def complete_then_lose_the_database(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        # The engine step is done in memory; the request's own connection dies before anything is written.
        pid = db.session.connection().connection.dbapi_connection.info.backend_pid
        with admin_engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killed.append(pid)
        return result

    monkeypatch.setattr(CaseWorkflow, "complete", complete_then_lose_the_database)
    resp = api.post("gestionnaire", f"/api/tasks/{task['id']}/complete", json={"data": QUALIFY})
    assert killed and resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.get_json()["trace_id"] and resp.headers["Retry-After"]
    monkeypatch.undo()
    db.session.rollback()
    assert snapshot(reference) == before  # nothing half-written

    retry = api.post("gestionnaire", f"/api/tasks/{task['id']}/complete", json={"data": QUALIFY})
    assert retry.status_code == 200, retry.get_json()
    assert "ut_analyse" in [t["bpmn_id"] for t in retry.get_json()["tasks"]]
    assert flows.case(api, reference)["status"] == "in_progress"


def test_every_pooled_connection_killed_between_requests_is_replaced(app, api, deployed, admin_engine):
    reference = flows.start(api, **flows.complaint_data())["reference"]
    db.session.remove()  # the test's outer app context would keep its connection: give it back as a request does
    with admin_engine.connect() as conn:
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert killed >= 1
    assert flows.case(api, reference)["reference"] == reference  # the checkout's BEGIN: a fresh connection
