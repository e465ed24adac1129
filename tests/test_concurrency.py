"""Races on PostgreSQL: the same task completed twice at once, a timer against a user, deploys against starts.

Each racer has its own app context (so its own session and connection), or its own process. Every case
change takes the case row lock first (app/services/core/case_lock.py): the racers are held at a barrier right
before they take it, so both really are in flight; the second waits for the first, then reads the committed
state and either answers 409 (its task is gone) or goes on from the new state. No deadlock either way.
"""

import logging
import multiprocessing
import os
import threading
import time

import pytest
from sqlalchemy import func, select

from app import clock, create_app
from app.config import normalize_db_url
from app.engine import CaseWorkflow
from app.extensions import db
from app.models import AuditEvent, Case, ProcessDefinition, TaskRow
from app.services.cases import lifecycle as cases
from app.services.core import audit, definitions
from app.services.core.errors import Conflict
from app.services.people.users import by_username, create_user
from tests.support.flows import complaint_data
from tests.support.setup import PROCESSES, START

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL only")]
QUALIFY = {"admissible": "yes", "category": "billing", "severity": "high"}
ANALYSE = {"facts": "Double facturation confirmée.", "systemic": "no", "needs_information": "no"}
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


def held(barrier, original):
    """`original`, made to wait at the barrier for the other racer first."""
    def wait_then_run(*args, **kwargs):
        barrier.wait(timeout=TIMEOUT)
        return original(*args, **kwargs)

    return wait_then_run


@pytest.fixture
def lost_races(caplog):
    """Messages of the case transactions PostgreSQL chose as deadlock or serialization victims (core.transaction)."""
    logger = logging.getLogger("reclamations")  # does not propagate to the root logger: listen on it
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.WARNING, logger="reclamations.transaction")
    yield lambda: [r.getMessage() for r in caplog.records if "lost a race" in r.getMessage()]
    logger.removeHandler(caplog.handler)


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


def test_two_users_complete_the_same_task_at_once_threads(app, two_handlers, monkeypatch, lost_races):
    case = start_case()
    row = ready_task(case.reference, "ut_qualify")
    version_before, task_id, case_id = case.lock_version, row.id, case.id
    monkeypatch.setattr(cases, "lock_task_case", held(threading.Barrier(2), cases.lock_task_case))

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
    assert lost_races() == []  # the loser waited for the lock and saw the task done: no deadlock victim


def _process_racer(url, task_id, username, barrier, queue, key_dir):
    """One racer in its own process: its own interpreter, app, pool and clock (the same audit key ring)."""
    clock.set_now(START)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret",
                      "AUDIT_KEY_DIR": key_dir})
    cases.lock_task_case = held(barrier, cases.lock_task_case)
    results = {}
    run_in_context(app, lambda: cases.complete_task(by_username(username), task_id, QUALIFY), results, username)
    queue.put(results)


def test_two_users_complete_the_same_task_at_once_processes(app, two_handlers):
    case = start_case()
    task_id, case_id, reference = ready_task(case.reference, "ut_qualify").id, case.id, case.reference
    mp = multiprocessing.get_context("spawn")
    barrier, queue = mp.Barrier(2), mp.Queue()
    url = normalize_db_url(os.environ["TEST_DATABASE_URL"])
    procs = [mp.Process(target=_process_racer, args=(url, task_id, name, barrier, queue, app.config["AUDIT_KEY_DIR"]))
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


def case_due_for_its_timer() -> tuple[str, str, int]:
    """A case whose service analysis is ready and whose answer deadline (bt_overdue) has just passed."""
    case = start_case(written="yes")
    cases.complete_task(by_username("gestionnaire"), ready_task(case.reference, "ut_qualify").id, QUALIFY)
    reference, analyse_id, case_id = case.reference, ready_task(case.reference, "ut_analyse").id, case.id
    clock.advance(days=16)  # past the 15-day answer deadline: bt_overdue is due
    return reference, analyse_id, case_id


def assert_one_outcome(reference: str, analyse_id: str, case_id: int, timer_first: bool) -> None:
    """One of the two serial outcomes, never a mix: the analysis completed once and, if the timer went first,
    it fired once (overdue task added); if the user went first, the analysis left the subprocess and took its
    deadline timers with it (nothing fired)."""
    case = assert_consistent(reference)
    types = [e.type for e in audit.history(case_id)]
    assert types.count("timer_fired") == (1 if timer_first else 0)
    assert completed_events(case_id, analyse_id) == 1
    ready = sorted(r.bpmn_id for r in db.session.scalars(
        select(TaskRow).where(TaskRow.case_id == case_id, TaskRow.state == "ready")))
    assert ready == (["ut_decide", "ut_overdue"] if timer_first else ["ut_decide"])
    assert case.next_timer_at is None and cases.fire_due_timers() == []


@pytest.mark.parametrize("first", ["timer", "user"])
def test_timer_firing_races_a_user_completion(app, two_handlers, monkeypatch, lost_races, first):
    """The overdue timer of the handling subprocess fires while the service completes its analysis.

    timer first: the worker holds the case lock; the user, about to lock, waits, then completes on the new
    state (200, not 409: their task is still there). user first: the user holds the lock; the worker's
    SKIP LOCKED pass leaves the case alone, and once the analysis is done no timer is due any more.
    """
    reference, analyse_id, case_id = case_due_for_its_timer()
    user_locked, timer_passed = threading.Event(), threading.Event()
    if first == "timer":
        barrier = threading.Barrier(2)
        monkeypatch.setattr(CaseWorkflow, "fire_timers", held(barrier, CaseWorkflow.fire_timers))  # lock held
        monkeypatch.setattr(cases, "lock_task_case", held(barrier, cases.lock_task_case))  # lock not yet taken
    else:
        original = CaseWorkflow.complete

        def complete_holding_the_lock(self, *args, **kwargs):
            user_locked.set()
            assert timer_passed.wait(TIMEOUT)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(CaseWorkflow, "complete", complete_holding_the_lock)
    fired = []

    def timer():
        if first == "user":
            assert user_locked.wait(TIMEOUT)
        fired.extend(cases.fire_due_timers())
        timer_passed.set()

    results = race(app, {"user": lambda: cases.complete_task(by_username("service"), analyse_id, ANALYSE),
                         "timer": timer})
    assert results == {"user": 200, "timer": 200}
    assert fired == ([reference] if first == "timer" else [])

    monkeypatch.undo()
    db.session.expire_all()  # what a new request would see
    assert_one_outcome(reference, analyse_id, case_id, timer_first=first == "timer")
    assert lost_races() == []


def race_timer_and_user(app, analyse_id: str, user_delay: float, timer_delay: float) -> tuple[dict, list]:
    """Start a user completion and a timer pass together, each after its delay; return results and fired."""
    barrier, fired = threading.Barrier(2), []

    def user():
        barrier.wait(timeout=TIMEOUT)
        time.sleep(user_delay)
        cases.complete_task(by_username("service"), analyse_id, ANALYSE)

    def timer():
        barrier.wait(timeout=TIMEOUT)
        time.sleep(timer_delay)
        fired.extend(cases.fire_due_timers())

    return race(app, {"user": user, "timer": timer}), fired


def test_timer_against_user_completion_many_rounds_never_deadlocks(app, two_handlers, lost_races):
    """30 rounds of a timer pass and a user completion on one case, started together with varied delays.

    Before the case row lock came first, the completion wrote task (and audit) rows before the case row while
    the worker locked the case row first: PostgreSQL killed one of them (40P01), answered 409.
    """
    orders = []
    for n in range(30):
        reference, analyse_id, case_id = case_due_for_its_timer()
        db.session.remove()
        # Every pair of delays: user 0-12 ms, timer 0-15 ms after the common start.
        results, fired = race_timer_and_user(app, analyse_id, (n % 5) * 0.003, (n // 5 % 6) * 0.003)
        assert results == {"user": 200, "timer": 200}, (n, results, lost_races())
        db.session.expire_all()
        # The worker fired the timer, or skipped the case the user held (or found it no longer due).
        assert fired in ([reference], [])
        orders.append("timer first" if fired else "user first")
        assert_one_outcome(reference, analyse_id, case_id, timer_first=bool(fired))
    assert lost_races() == []  # not once a deadlock (or serialization) victim
    assert set(orders) == {"timer first", "user first"}, orders  # both orders really happened
    assert audit.verify() == []


def at_once(barrier, delay: float, fn):
    """fn, started with the other racers at the barrier, then after its delay."""
    def run():
        barrier.wait(timeout=TIMEOUT)
        time.sleep(delay)
        fn()

    return run


def test_claim_comment_and_timer_on_one_case_queue_on_its_lock(app, two_handlers, lost_races):
    """Claim, comment and timer pass at once on one case, 10 times: all go through, the audit chain holds.

    Each appends to the case's audit chain (seq + 1 of the last event): without the case row lock first,
    two of them could take the same seq (unique violation) or deadlock with the worker.
    """
    from app.services.cases import notes
    from app.services.tasks import actions as tasks

    for n in range(10):
        reference, analyse_id, _case_id = case_due_for_its_timer()
        db.session.remove()
        barrier, delay, fired = threading.Barrier(3), (n % 4) * 0.002, []
        results = race(app, {
            "claim": at_once(barrier, 0, lambda t=analyse_id: tasks.claim(by_username("service"), t)),
            "comment": at_once(barrier, delay, lambda r=reference: notes.add_comment(
                by_username("gestionnaire"), r, "Relancé.")),
            "timer": at_once(barrier, 2 * delay, lambda f=fired: f.extend(cases.fire_due_timers())),
        })
        assert results == {"claim": 200, "comment": 200, "timer": 200}, (n, results)
        db.session.expire_all()
        if not fired:  # the worker skipped the case another racer held: its next pass fires the timer
            assert cases.fire_due_timers() == [reference]
        case = assert_consistent(reference)
        types = [e.type for e in audit.history(case.id)]
        assert types.count("task_claimed") == types.count("comment_added") == types.count("timer_fired") == 1
        assert db.session.get(TaskRow, analyse_id).assignee == "service"
    assert lost_races() == []


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
    assert all(definitions.sha256(d.xml, d.decisions) == d.sha256 for d in rows)  # BPMN and its DMN tables
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
    assert {d.sha256 for d in rows[1:]} == {definitions.sha256(t, rows[1].decisions) for t in texts.values()}
    assert audit.verify() == []  # the global chain (deployments) did not fork


