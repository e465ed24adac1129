"""The physical floor of one step, measured in the same run as the service figures it is compared with.

floor = the engine alone (deserialize the stored state, complete the task and run the engine, serialize)
      + a minimal SQLAlchemy Core transaction writing what a step writes: lock and read the case row, read the
        workflow state, update the case, complete one task row and insert the next, insert one audit event,
        write the state blob, commit. Prebuilt statements, no ORM, no rollup, no hashing.

Nothing the service does is free of these costs, so service / floor says how much is ours. bench/step_cost.py
runs both floor parts once between every two service steps (the Core transaction on a case of its own), so
that on a shared machine the service and its floor see the same load.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text


class CoreFloor:
    """The minimal transaction on an existing case of the database behind `engine`: `once()` runs it and returns
    its seconds. Run it on a case of its own (it adds task rows and audit events to it), between the service's
    steps, so that both see the same machine load."""

    def __init__(self, engine, case_id: int):
        for_update = " FOR UPDATE" if engine.dialect.name == "postgresql" else ""
        self.engine, self.case_id = engine, case_id
        self.lock = text(f"SELECT id, lock_version, data FROM case_record WHERE id = :id{for_update}")
        self.state = text("SELECT state FROM workflow_state WHERE case_id = :id")
        self.update_case = text("UPDATE case_record SET updated_at = :now, data = :data, "
                                "lock_version = lock_version + 1 WHERE id = :id AND lock_version = :version")
        template = text("SELECT * FROM task WHERE case_id = :id ORDER BY created_at DESC LIMIT 1")
        self.complete = text("UPDATE task SET state = 'completed', completed_at = :now, completed_by = 'floor' "
                             "WHERE id = :task")
        head = text("SELECT max(seq) FROM audit_event WHERE case_id = :id")
        self.audit = text("INSERT INTO audit_event (case_id, case_reference, seq, at, actor, type, data, prev_hash, "
                          "hash) SELECT id, reference, :seq, :now, 'floor', 'floor_step', :data, :prev, :hash "
                          "FROM case_record WHERE id = :id")
        self.save = text("UPDATE workflow_state SET state = :state, updated_at = :now WHERE case_id = :id")
        with engine.connect() as conn:
            row = conn.execute(template, {"id": case_id}).mappings().first()
            columns = list(row.keys())
            self.insert_task = text(f"INSERT INTO task ({', '.join(columns)}) "
                                    f"VALUES ({', '.join(':' + c for c in columns)})")
            self.task_template = dict(row)
            self.seq = conn.execute(head, {"id": case_id}).scalar() or 0

    def once(self) -> float:
        """Wall seconds of one run (its CPU seconds in this process: `self.cpu`)."""
        now, case_id = datetime.now(UTC), self.case_id
        start, cpu = time.perf_counter(), time.process_time()
        with self.engine.begin() as conn:
            case = conn.execute(self.lock, {"id": case_id}).first()
            blob = conn.execute(self.state, {"id": case_id}).scalar()
            conn.execute(self.update_case, {"now": now, "data": case.data if isinstance(case.data, str)
                                            else json.dumps(case.data), "id": case_id, "version": case.lock_version})
            conn.execute(self.complete, {"now": now, "task": self.task_template["id"]})
            self.task_template = {**self.task_template, "id": uuid.uuid4().hex, "created_at": now, "state": "ready",
                                  "completed_at": None, "completed_by": None}
            conn.execute(self.insert_task, self.task_template)
            self.seq += 1
            conn.execute(self.audit, {"seq": self.seq, "now": now, "data": '{"floor": true}', "prev": "0" * 64,
                                      "hash": uuid.uuid4().hex * 2, "id": case_id})
            conn.execute(self.save, {"state": blob, "now": now, "id": case_id})
        self.cpu = time.process_time() - cpu
        return time.perf_counter() - start


def core_transaction_seconds(engine, case_id: int, runs: int = 50) -> float:
    """Median seconds of the minimal transaction, run `runs` times in a row on an existing case."""
    floor = CoreFloor(engine, case_id)
    return statistics.median(floor.once() for _ in range(runs))


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
