"""The timer worker: concurrent workers never fire a timer twice; a crash mid-batch loses and duplicates nothing."""

import threading

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import AuditEvent, Case, Notification, TaskRow
from app.services.cases import lifecycle as cases
from app.services.core import audit

pytestmark = pytest.mark.usefixtures("rollup_checked")  # indicator facts checked after each test

CASES = 8


def open_disputes(api, count: int) -> list[str]:
    refs = []
    for n in range(count):
        resp = api.post("finance", "/api/cases", json={"process": "litige", "data": {
            "customer_name": f"Client {n}", "invoice_refs": f"FA-{n}", "blocked_amount": 100.0 + n,
            "block_reason": "Prix contesté"}})
        assert resp.status_code == 201, resp.get_json()
        refs.append(resp.get_json()["reference"])
    return refs


def fired_counts(refs) -> dict[str, int]:
    db.session.expire_all()
    rows = db.session.execute(select(AuditEvent.case_reference, func.count()).where(
        AuditEvent.type == "timer_fired", AuditEvent.case_reference.in_(refs)).group_by(AuditEvent.case_reference))
    return {ref: 0 for ref in refs} | dict(rows.all())


def arbitration_tasks(refs) -> dict[str, int]:
    rows = db.session.execute(select(TaskRow.case_reference, func.count()).where(
        TaskRow.bpmn_id == "ut_arbitrate", TaskRow.case_reference.in_(refs)).group_by(TaskRow.case_reference))
    return {ref: 0 for ref in refs} | dict(rows.all())


def test_workers_racing_fire_each_timer_exactly_once(deployed, api, app, backend):
    refs = open_disputes(api, CASES)
    clock.advance(days=31)
    db.session.remove()
    workers = 4
    barrier = threading.Barrier(workers)
    results, errors = [], []

    def worker():
        try:
            with app.app_context():
                barrier.wait()
                # Small batches and several passes, as the loop does: the workers overlap all along.
                for _ in range(CASES):
                    results.append(cases.fire_due_timers(limit=2))
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    fired = [ref for batch in results for ref in batch]
    assert sorted(fired) == sorted(refs)  # every case once, none twice
    assert fired_counts(refs) == {ref: 1 for ref in refs}
    assert arbitration_tasks(refs) == {ref: 1 for ref in refs}
    # The escalation told the direction group once per case.
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.group_name == "direction")) == CASES
    assert cases.fire_due_timers() == []
    assert audit.verify() == []


def test_worker_crash_mid_batch_loses_and_duplicates_nothing(deployed, api, monkeypatch):
    refs = open_disputes(api, 6)
    clock.advance(days=31)
    real_fire, calls = cases._fire, []

    class WorkerKilled(BaseException):
        """The process dying (kill -9, SIGTERM): not an Exception, which the pass isolates per case."""

    def crashing_fire(case):
        calls.append(case.reference)
        result = real_fire(case)  # the whole step is written to the session...
        if len(calls) == 4:
            raise WorkerKilled("worker killed")  # ...and the process dies before its commit
        return result

    monkeypatch.setattr(cases, "_fire", crashing_fire)
    with pytest.raises(WorkerKilled, match="worker killed"):
        cases.fire_due_timers()
    counts = fired_counts(refs)
    assert sum(counts.values()) == 3 and set(counts.values()) == {0, 1}
    crashed = calls[3]
    assert counts[crashed] == 0 and arbitration_tasks([crashed]) == {crashed: 0}
    case = db.session.scalar(select(Case).where(Case.reference == crashed))
    assert case.next_timer_at is not None and case.next_timer_at <= clock.now()  # still due: not lost

    monkeypatch.setattr(cases, "_fire", real_fire)
    rerun = cases.fire_due_timers()
    assert sorted(rerun) == sorted(ref for ref, n in counts.items() if n == 0)
    assert fired_counts(refs) == {ref: 1 for ref in refs}
    assert arbitration_tasks(refs) == {ref: 1 for ref in refs}
    assert cases.fire_due_timers() == []
    assert audit.verify() == []


def test_timers_cli_once_and_crash_rerun(deployed, api, runner):
    refs = open_disputes(api, 2)
    result = runner.invoke(args=["timers", "run", "--once"])
    assert result.exit_code == 0 and "Minuteries déclenchées : 0" in result.output
    clock.advance(days=31)
    result = runner.invoke(args=["timers", "run", "--once", "--batch", "1"])
    assert result.exit_code == 0 and "Minuteries déclenchées : 1" in result.output
    result = runner.invoke(args=["timers", "run", "--once"])
    assert "Minuteries déclenchées : 1" in result.output
    assert fired_counts(refs) == {ref: 1 for ref in refs}
