"""The physical floor of one step, measured in the same run as the service figures it is compared with.

floor = the engine alone (deserialize the stored state, complete the task and run the engine, serialize)
      + a minimal SQLAlchemy Core transaction writing what a step writes: lock and read the case row, read the
        workflow state, update the case, complete one task row and insert the next, insert one audit event,
        write the state blob, commit. Prebuilt statements, no ORM, no rollup, no hashing.

Nothing the service does is free of these costs, so service / floor says how much is ours.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text


def core_transaction_seconds(engine, case_id: int, runs: int = 50) -> float:
    """Median seconds of the minimal transaction on an existing case of the database behind `engine`."""
    for_update = " FOR UPDATE" if engine.dialect.name == "postgresql" else ""
    lock = text(f"SELECT id, lock_version, data FROM case_record WHERE id = :id{for_update}")
    state = text("SELECT state FROM workflow_state WHERE case_id = :id")
    update_case = text("UPDATE case_record SET updated_at = :now, data = :data, lock_version = lock_version + 1 "
                       "WHERE id = :id AND lock_version = :version")
    template = text("SELECT * FROM task WHERE case_id = :id ORDER BY created_at DESC LIMIT 1")
    complete = text("UPDATE task SET state = 'completed', completed_at = :now, completed_by = 'floor' "
                    "WHERE id = :task")
    head = text("SELECT max(seq) FROM audit_event WHERE case_id = :id")
    audit = text("INSERT INTO audit_event (case_id, case_reference, seq, at, actor, type, data, prev_hash, hash) "
                 "SELECT id, reference, :seq, :now, 'floor', 'floor_step', :data, :prev, :hash FROM case_record "
                 "WHERE id = :id")
    save = text("UPDATE workflow_state SET state = :state, updated_at = :now WHERE case_id = :id")
    with engine.connect() as conn:
        row = conn.execute(template, {"id": case_id}).mappings().first()
        columns = [c for c in row.keys()]
        insert_task = text(f"INSERT INTO task ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
        task_template = dict(row)
        seq = conn.execute(head, {"id": case_id}).scalar() or 0
    samples = []
    for _ in range(runs):
        now = datetime.now(UTC)
        start = time.perf_counter()
        with engine.begin() as conn:
            case = conn.execute(lock, {"id": case_id}).first()
            blob = conn.execute(state, {"id": case_id}).scalar()
            conn.execute(update_case, {"now": now, "data": case.data if isinstance(case.data, str)
                                       else json.dumps(case.data), "id": case_id, "version": case.lock_version})
            conn.execute(complete, {"now": now, "task": task_template["id"]})
            task_template = {**task_template, "id": uuid.uuid4().hex, "created_at": now, "state": "ready",
                             "completed_at": None, "completed_by": None}
            conn.execute(insert_task, task_template)
            seq += 1
            conn.execute(audit, {"seq": seq, "now": now, "data": '{"floor": true}', "prev": "0" * 64,
                                 "hash": uuid.uuid4().hex * 2, "id": case_id})
            conn.execute(save, {"state": blob, "now": now, "id": case_id})
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def engine_step_seconds(pspec, state: str, complete_values, runs: int = 30, *, bpmn_id: str | None = None,
                        context=None) -> float:
    """Median seconds of deserialize + complete the ready task (`bpmn_id`, or the first) + serialize, from the
    same stored state; `context` makes the step context (handlers run for real, their effects dropped)."""
    from app.engine import CaseWorkflow, StepContext

    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        workflow = CaseWorkflow.load(pspec, state, (context or StepContext)())
        ready = workflow.ready_tasks()
        task = next(t for t in ready if t.bpmn_id == bpmn_id) if bpmn_id else ready[0]
        workflow.complete(task.id, dict(complete_values(task)))
        workflow.dump()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


class StatementCounter:
    """Counts the SQL statements an engine sends while `counting` is true (test-independent: the engine's own
    before_cursor_execute event)."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.count, self.counting = 0, False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args) -> None:
        if self.counting:
            self.count += 1

    def start(self) -> None:
        self.count, self.counting = 0, True

    def stop(self) -> int:
        self.counting = False
        return self.count
