"""Races on PostgreSQL: the same task completed twice at once, a timer against a user, deploys against starts.

Each racer has its own app context (so its own session and connection), or its own process. The racers are
held at a barrier right after they passed every check and loaded the workflow, so both really are in flight:
without the optimistic lock both would succeed.
"""

import multiprocessing
import os
import threading

import pytest
from sqlalchemy import func, select

from app import clock, create_app
from app.config import normalize_db_url
from app.extensions import db
from app.models import AuditEvent, Case, ProcessDefinition, TaskRow
from app.services import audit, cases, definitions
from app.services.engine import CaseWorkflow
from app.services.errors import Conflict
from app.services.users import by_username, create_user
from tests.conftest import PROCESSES, START
from tests.flows import complaint_data

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL only")]
QUALIFY = {"admissible": True, "category": "billing", "severity": "high"}
ANALYSE = {"facts": "Double facturation confirmée.", "systemic": False}
TIMEOUT = 60


@pytest.fixture
def backend():
    return "postgresql"


@pytest.fixture
def two_handlers(deployed):
    """A second gestionnaire and a second service member besides the fixture's users."""
    create_user("gestionnaire2", "demo", ["gestionnaire"], commit=False)
    create_user("service2", "demo", ["service"])


def start_case(**data) -> Case:
    return cases.start_case(by_username("accueil"), "reclamation", complaint_data(**data))


def ready_task(reference: str, bpmn_id: str) -> TaskRow:
    case = cases.get_case(reference)
    [row] = [r for r in db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id,
                                                                   TaskRow.state == "ready"))
             if r.bpmn_id == bpmn_id]
    return row


def hold_at(barrier, method: str):
    """Patch CaseWorkflow.<method> so that each racer waits for the other before running the step."""
    original = getattr(CaseWorkflow, method)

    def held(self, *args, **kwargs):
        barrier.wait(timeout=TIMEOUT)
        return original(self, *args, **kwargs)

    return original, held


def run_in_context(app, fn, results, key):
    with app.app_context():
        try:
            fn()
            results[key] = 200
        except Conflict:
            results[key] = 409
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            results[key] = repr(exc)
        finally:
            db.session.remove()


def race(app, fns: dict) -> dict:
    results = {}
    threads = [threading.Thread(target=run_in_context, args=(app, fn, results, key)) for key, fn in fns.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads)
    return results


def completed_events(case_id: int, task_id: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.case_id == case_id, AuditEvent.type == "task_completed", AuditEvent.task_id == task_id))


def assert_consistent(reference: str) -> Case:
    """The audit chain verifies, the task table matches the workflow, no task is ready twice."""
    db.session.expire_all()
    case = cases.get_case(reference)
    assert audit.verify(reference) == []
    workflow = cases.load_workflow(case, cases.CaseContext(case, "test"))
    ready_rows = db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "ready"))
    assert sorted(r.id for r in ready_rows) == sorted(t.id for t in workflow.ready_tasks())
    assert case.incident is None
    return case


def test_two_users_complete_the_same_task_at_once_threads(app, two_handlers, monkeypatch):
    case = start_case()
    row = ready_task(case.reference, "ut_qualify")
    version_before, task_id, case_id = case.lock_version, row.id, case.id
    original, held = hold_at(threading.Barrier(2), "complete")
    monkeypatch.setattr(CaseWorkflow, "complete", held)

    def as_user(name):
        return lambda: cases.complete_task(by_username(name), task_id, QUALIFY)

    results = race(app, {"gestionnaire": as_user("gestionnaire"), "gestionnaire2": as_user("gestionnaire2")})
    assert sorted(results.values()) == [200, 409], results
    winner = next(k for k, v in results.items() if v == 200)

    case = assert_consistent(case.reference)
    assert case.lock_version == version_before + 1
    assert completed_events(case_id, task_id) == 1
    row = db.session.get(TaskRow, task_id)
    assert row.state == "completed" and row.completed_by == winner
    assert [t.bpmn_id for t in db.session.scalars(
        select(TaskRow).where(TaskRow.case_id == case_id, TaskRow.state == "ready"))] == ["ut_analyse"]


def _process_racer(url, task_id, username, barrier, queue):
    """One racer in its own process: its own interpreter, app, pool and clock."""
    clock.set_now(START)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret"})
    original = CaseWorkflow.complete

    def held(self, *args, **kwargs):
        barrier.wait(timeout=TIMEOUT)
        return original(self, *args, **kwargs)

    CaseWorkflow.complete = held
    results = {}
    run_in_context(app, lambda: cases.complete_task(by_username(username), task_id, QUALIFY), results, username)
    queue.put(results)


def test_two_users_complete_the_same_task_at_once_processes(app, two_handlers):
    case = start_case()
    task_id, case_id, reference = ready_task(case.reference, "ut_qualify").id, case.id, case.reference
    mp = multiprocessing.get_context("spawn")
    barrier, queue = mp.Barrier(2), mp.Queue()
    url = normalize_db_url(os.environ["TEST_DATABASE_URL"])
    procs = [mp.Process(target=_process_racer, args=(url, task_id, name, barrier, queue))
             for name in ("gestionnaire", "gestionnaire2")]
    for p in procs:
        p.start()
    results = {}
    for _ in procs:
        results.update(queue.get(timeout=TIMEOUT))
    for p in procs:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    assert sorted(results.values()) == [200, 409], results
    assert_consistent(reference)
    assert completed_events(case_id, task_id) == 1


def test_timer_firing_races_a_user_completion(app, two_handlers, monkeypatch):
    """The overdue timer of the handling subprocess fires while the service completes its analysis."""
    case = start_case(written=True)
    cases.complete_task(by_username("gestionnaire"), ready_task(case.reference, "ut_qualify").id, QUALIFY)
    analyse_id, case_id, reference = ready_task(case.reference, "ut_analyse").id, case.id, case.reference
    clock.advance(days=16)  # past the 15-day answer deadline: bt_overdue is due
    barrier = threading.Barrier(2)
    _, held_complete = hold_at(barrier, "complete")
    _, held_fire = hold_at(barrier, "fire_timers")
    monkeypatch.setattr(CaseWorkflow, "complete", held_complete)
    monkeypatch.setattr(CaseWorkflow, "fire_timers", held_fire)
    fired = []
    results = race(app, {
        "user": lambda: cases.complete_task(by_username("service"), analyse_id, ANALYSE),
        "timer": lambda: fired.extend(cases.fire_due_timers()),
    })
    assert results["timer"] == 200  # the worker never fails on a race: it skips the case
    assert results["user"] in (200, 409)
    assert (results["user"] == 200) != (fired == [reference]), (results, fired)  # exactly one step won

    monkeypatch.undo()
    db.session.expire_all()  # what a new request would see
    if results["user"] == 409:  # the user retries on the new state; their task is still there
        cases.complete_task(by_username("service"), analyse_id, ANALYSE)
    else:  # the timer worker's next pass fires the timer on the new state
        assert cases.fire_due_timers() == [reference]
    case = assert_consistent(reference)
    types = [e.type for e in audit.history(case_id)]
    assert types.count("timer_fired") == 1
    assert completed_events(case_id, analyse_id) == 1
    ready = sorted(r.bpmn_id for r in db.session.scalars(
        select(TaskRow).where(TaskRow.case_id == case_id, TaskRow.state == "ready")))
    assert ready == ["ut_decide", "ut_overdue"]


def test_deploying_new_versions_while_cases_start(app, two_handlers):
    """Cases started during deployments run a complete, committed version and record which one."""
    xml = (PROCESSES / "reclamation.bpmn").read_text(encoding="utf-8")
    versions = [xml.replace("</bpmn:definitions>", f"<!-- v{i} --></bpmn:definitions>") for i in range(2, 6)]
    references = []

    def deployer():
        for text in versions:
            definitions.deploy_xml(text, "proprietaire", "reclamation.bpmn")
            db.session.commit()

    def starter():
        for _ in range(8):
            references.append(start_case().reference)

    results = race(app, {"deploy": deployer, "start1": starter, "start2": starter})
    assert set(results.values()) == {200}, results
    db.session.expire_all()
    rows = db.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == "reclamation")
                              .order_by(ProcessDefinition.version)).all()
    assert [d.version for d in rows] == [1, 2, 3, 4, 5]
    assert all(definitions.sha256(d.xml) == d.sha256 for d in rows)
    assert len(references) == 16
    for reference in references:
        case = cases.get_case(reference)
        started = next(e for e in audit.history(case.id) if e.type == "case_started")
        assert started.data["version"] == case.definition.version
        assert started.data["definition_sha256"] == case.definition.sha256
        assert_consistent(reference)


def test_two_deployments_of_the_same_process_at_once_make_distinct_versions(app, two_handlers):
    xml = (PROCESSES / "reclamation.bpmn").read_text(encoding="utf-8")
    texts = {n: xml.replace("</bpmn:definitions>", f"<!-- {n} --></bpmn:definitions>") for n in ("a", "b")}

    def deploy(name):
        def run():
            definitions.deploy_xml(texts[name], "proprietaire", "reclamation.bpmn")
            db.session.commit()
        return run

    results = race(app, {"a": deploy("a"), "b": deploy("b")})
    assert results == {"a": 200, "b": 200}
    db.session.expire_all()
    rows = db.session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.key == "reclamation").order_by(ProcessDefinition.version)).all()
    assert [d.version for d in rows] == [1, 2, 3]
    assert {d.sha256 for d in rows[1:]} == {definitions.sha256(t) for t in texts.values()}
    assert audit.verify() == []  # the global chain (deployments) did not fork


