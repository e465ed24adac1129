"""A completion's one locking statement (case_lock.lock_task_case(for_step=True)) reads the case and its workflow
state, then one statement the task row and the case's ready rows: a completion that waited for the lock while
another step of the same case committed must start from that step's state and rows, not from its own
statement's snapshot (PostgreSQL re-reads only the rows it locks). Two parallel branches completed at once:
both go through, the join fires once, nothing is lost."""

import os
import threading
import time

import pytest
from sqlalchemy import select, text

from app.engine import CaseWorkflow
from app.extensions import db
from app.models import Case, TaskRow
from app.services.cases import lifecycle as cases
from app.services.core import audit
from app.services.core.definitions import deploy_files
from app.services.core.errors import Conflict
from app.services.people.users import by_username
from tests.support.setup import TEST_BPMN

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL only")]
TIMEOUT = 60


@pytest.fixture
def backend():
    return "postgresql"


@pytest.fixture
def parallel(users):
    deploy_files([TEST_BPMN / "parallel_loop.bpmn"], "test")


def ready_rows(reference: str) -> dict[str, str]:
    case_id = db.session.scalar(select(Case.id).where(Case.reference == reference))
    return {r.bpmn_id: r.id for r in db.session.scalars(
        select(TaskRow).where(TaskRow.case_id == case_id, TaskRow.state == "ready"))}


def wait_until_blocked_on_a_lock(admin, pids: list) -> None:
    """Poll the server (no fixed sleep) until one of the racers' backends waits for a row lock."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with admin.connect() as conn:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid = ANY(:pids)"),
                {"pids": pids}).scalar()
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("the second completion never waited for the case lock")


def test_a_completion_that_waited_for_the_lock_starts_from_the_committed_step(app, parallel, admin_engine):
    ref = cases.start_case(by_username("gestionnaire"), "double_avis", {"customer_name": "Martine Lefèvre"}).reference
    rows = ready_rows(ref)
    version = cases.get_case(ref).lock_version
    assert set(rows) == {"ut_service", "ut_finance"}
    db.session.remove()
    first_in, go_on, pids, results = threading.Event(), threading.Event(), [], {}
    original = CaseWorkflow.complete

    def hold_the_lock(self, *args, **kwargs):
        if threading.current_thread().name == "service":  # the first racer, lock held: wait for the second
            first_in.set()
            assert go_on.wait(TIMEOUT)
        return original(self, *args, **kwargs)

    def racer(user, task_id, data):
        with app.app_context():
            try:
                pids.append(db.session.connection().connection.driver_connection.info.backend_pid)
                cases.complete_task(by_username(user), task_id, data)
                results[user] = 200
            except Conflict:
                results[user] = 409
            except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
                results[user] = repr(exc)
            finally:
                db.session.remove()

    CaseWorkflow.complete = hold_the_lock
    try:
        service = threading.Thread(target=racer, name="service",
                                   args=("service", rows["ut_service"], {"service_opinion": "favorable"}))
        finance = threading.Thread(target=racer, name="finance",
                                   args=("finance", rows["ut_finance"], {"finance_opinion": "réservé"}))
        service.start()
        assert first_in.wait(TIMEOUT)  # the service's completion holds the case lock
        finance.start()
        wait_until_blocked_on_a_lock(admin_engine, pids)  # the finance's completion waits for it
        go_on.set()
        service.join(TIMEOUT)
        finance.join(TIMEOUT)
    finally:
        CaseWorkflow.complete = original
        go_on.set()
    assert results == {"service": 200, "finance": 200}

    db.session.expire_all()
    case = cases.get_case(ref)
    workflow = cases.load_workflow(case, cases.CaseContext(case, "test"))
    # Both opinions in the state, the join passed once: had the second started from the state read before the
    # first committed, the service's task would be ready again and its opinion lost.
    assert case.data["service_opinion"] == "favorable" and case.data["finance_opinion"] == "réservé"
    assert [t.bpmn_id for t in workflow.ready_tasks()] == ["ut_conclude"]
    assert list(ready_rows(ref)) == ["ut_conclude"]
    assert case.lock_version == version + 2  # one step each
    assert audit.verify(ref) == []
