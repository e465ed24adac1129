"""(1) Our overhead per step: the complaint process run in memory by SpiffWorkflow vs through the service
layer with persistence (state, task rows, audit, outbox; one transaction per step), SQLite and PostgreSQL.

    python bench/overhead.py [--cases N] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import logging
import time

from common import COMPLAINT, LIFECYCLE, ROOT, fresh_database, median_ms, prepare, service_lifecycles, table

STEPS = ["start", *[bpmn_id for bpmn_id, _, _ in LIFECYCLE]]


class MemoryContext:
    """Handlers run for real (deadlines, statuses), their effects (messages) are dropped: no database."""

    reference, has_parent = "MEM-1", False

    def call_handler(self, topic, properties, data, bpmn_id):
        from app.services.core.handlers import HANDLERS

        return HANDLERS[topic](self, properties, data)

    def now(self):
        from app import clock

        return clock.now()

    def send_message(self, template, data):
        pass

    def clock(self, action, **values):  # deadline clocks are rows of the database: dropped here
        pass

    def notify(self, props):
        pass


def raw_run(cases: int) -> dict[str, list[float]]:
    """Per step seconds for the in-memory run (no serialization, no database)."""
    from app.engine import CaseWorkflow, parse_definition

    decisions = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "processes").glob("*.dmn"))} or None
    pspec = parse_definition((ROOT / "processes" / "reclamation.bpmn").read_text(encoding="utf-8"), "reclamation",
                             decisions=decisions)
    times = {s: [] for s in STEPS}
    for _ in range(cases):
        context = MemoryContext()
        t0 = time.perf_counter()
        workflow, result = CaseWorkflow.start(pspec, dict(COMPLAINT), context)
        times["start"].append(time.perf_counter() - t0)
        for bpmn_id, _group, data in LIFECYCLE:
            task = next(t for t in result.ready if t.bpmn_id == bpmn_id)
            t0 = time.perf_counter()
            result = workflow.complete(task.id, dict(data))
            times[bpmn_id].append(time.perf_counter() - t0)
        assert result.completed, "the in-memory run did not finish"
    return times


def service_run(backend: str, cases: int) -> dict[str, list[float]]:
    """Per step seconds through app.services.cases.lifecycle (validation, engine, persistence, one commit)."""
    with fresh_database(backend) as url:
        return service_lifecycles(prepare(url), cases)


def run(cases: int, backends: list[str]) -> str:
    logging.getLogger("reclamations").setLevel(logging.WARNING)
    raw = raw_run(cases)
    results = {b: service_run(b, cases) for b in backends}
    header = ["step", "SpiffWorkflow in memory (ms)"]
    for b in backends:
        header += [f"service + {b} (ms)", f"ratio {b}"]
    rows = []
    for step in [*STEPS, "total"]:
        raw_ms = sum(median_ms(raw[s]) for s in STEPS) if step == "total" else median_ms(raw[step])
        row = [step, raw_ms]
        for b in backends:
            ms = sum(median_ms(results[b][s]) for s in STEPS) if step == "total" else median_ms(results[b][step])
            row += [ms, f"{ms / raw_ms:.1f}×"]
        rows.append(row)
    return table(f"(1) Overhead per step, complaint happy path, median of {cases} cases", header, rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(run(args.cases, args.backends.split(",")))
